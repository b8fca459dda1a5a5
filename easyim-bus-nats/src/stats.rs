//! Counters of the bus, so an operator sees what it dropped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What the bus did since start. Relaxed atomics, cheap from any thread.
#[derive(Debug, Default)]
pub struct BusStats {
    pub(crate) published: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) publish_failed: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) ignored_own: AtomicU64,
    pub(crate) malformed: AtomicU64,
}

impl BusStats {
    /// Events handed to NATS.
    pub fn published(&self) -> u64 {
        self.published.load(Relaxed)
    }

    /// NATS messages the published events went in (one batch each).
    pub fn batches(&self) -> u64 {
        self.batches.load(Relaxed)
    }

    /// Events dropped because the outgoing queue was full (NATS slow or away). Their
    /// recipients get the messages at their next login instead.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Events from other nodes applied to this node's connections.
    pub fn received(&self) -> u64 {
        self.received.load(Relaxed)
    }

    /// Appends the counters in the Prometheus text exposition format.
    pub fn render(&self, out: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 7] = [
            (
                "easyim_bus_published_total",
                "Events handed to NATS.",
                &self.published,
            ),
            (
                "easyim_bus_batches_total",
                "NATS messages the events were published in (a batch each).",
                &self.batches,
            ),
            (
                "easyim_bus_dropped_total",
                "Events dropped because the bus queue was full.",
                &self.dropped,
            ),
            (
                "easyim_bus_publish_failed_total",
                "Events NATS refused to take.",
                &self.publish_failed,
            ),
            (
                "easyim_bus_received_total",
                "Events from other nodes applied here.",
                &self.received,
            ),
            (
                "easyim_bus_ignored_own_total",
                "Events of this node that came back and were ignored.",
                &self.ignored_own,
            ),
            (
                "easyim_bus_malformed_total",
                "Payloads on the bus subjects that could not be read.",
                &self.malformed,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
    }
}
