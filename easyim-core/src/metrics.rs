//! Counters the engine keeps, rendered in the Prometheus text format by the server.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the storage latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// The engine's counters. Cheap to update from any thread (relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) connections: AtomicI64,
    pub(crate) logins: AtomicU64,
    pub(crate) login_failures: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) acks: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) pending_pushed: AtomicU64,
    pub(crate) receipts: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) catch_ups: AtomicU64,
    storage_buckets: [AtomicU64; BUCKETS.len()],
    pub(crate) storage_count: AtomicU64,
    storage_sum_nanos: AtomicU64,
}

impl Metrics {
    /// Records how long one storage step took.
    pub fn observe_storage(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.storage_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.storage_count.fetch_add(1, Relaxed);
        self.storage_sum_nanos
            .fetch_add(took.as_nanos() as u64, Relaxed);
    }

    /// Live connections (logged in or not).
    pub fn connections(&self) -> i64 {
        self.connections.load(Relaxed)
    }

    /// Messages acked since start.
    pub fn acks(&self) -> u64 {
        self.acks.load(Relaxed)
    }

    /// Appends every counter in the Prometheus text exposition format.
    pub fn render(&self, out: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 11] = [
            ("easyim_logins_total", "Successful IM logins.", &self.logins),
            (
                "easyim_login_failures_total",
                "Refused IM logins.",
                &self.login_failures,
            ),
            (
                "easyim_frames_in_total",
                "Frames received from clients.",
                &self.frames_in,
            ),
            (
                "easyim_frames_out_total",
                "Frames queued to clients.",
                &self.frames_out,
            ),
            (
                "easyim_acks_total",
                "Messages stored and acked.",
                &self.acks,
            ),
            (
                "easyim_deliveries_total",
                "Messages queued to recipient connections.",
                &self.deliveries,
            ),
            (
                "easyim_pending_pushed_total",
                "Pending messages pushed at login or to a lagging connection.",
                &self.pending_pushed,
            ),
            (
                "easyim_receipts_total",
                "Receipts recorded.",
                &self.receipts,
            ),
            ("easyim_errors_total", "Error frames sent.", &self.errors),
            (
                "easyim_slow_consumers_total",
                "Connections closed for taking no frame for STALL_TIMEOUT.",
                &self.slow_consumers,
            ),
            (
                "easyim_catch_ups_total",
                "Lagging connections refilled from storage.",
                &self.catch_ups,
            ),
        ];
        let _ = writeln!(out, "# HELP easyim_connections Live IM connections.");
        let _ = writeln!(out, "# TYPE easyim_connections gauge");
        let _ = writeln!(out, "easyim_connections {}", self.connections());
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Relaxed));
        }
        let name = "easyim_storage_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Latency of storage steps (store, receipt, pending)."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.storage_buckets[i].load(Relaxed)
            );
        }
        let count = self.storage_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.storage_sum_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}
