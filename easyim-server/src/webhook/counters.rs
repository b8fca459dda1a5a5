//! [`WebhookCounters`]: what `/metrics` shows of the webhooks.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// The dispatcher's counters and its last look at the outbox.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Events delivered (the receiver answered 2xx).
    pub(crate) delivered: AtomicU64,
    /// POSTs that failed (no answer, or not 2xx).
    pub(crate) failures: AtomicU64,
    /// Events waiting in the outbox, at the last look.
    pub(crate) depth: AtomicU64,
    /// When the oldest waiting event happened (ms since the Unix epoch), 0 if none.
    pub(crate) oldest_ms: AtomicI64,
}

impl WebhookCounters {
    /// Appends the counters in the Prometheus text format; `now_ms` gives the age.
    pub(crate) fn render(&self, out: &mut String, now_ms: i64) {
        let oldest = self.oldest_ms.load(Relaxed);
        let age = if oldest == 0 {
            0.0
        } else {
            (now_ms - oldest).max(0) as f64 / 1000.0
        };
        let _ = write!(
            out,
            "# TYPE easyim_webhook_delivered_total counter\n\
             easyim_webhook_delivered_total {}\n\
             # TYPE easyim_webhook_failures_total counter\n\
             easyim_webhook_failures_total {}\n\
             # TYPE easyim_webhook_outbox_depth gauge\n\
             easyim_webhook_outbox_depth {}\n\
             # TYPE easyim_webhook_outbox_oldest_age_seconds gauge\n\
             easyim_webhook_outbox_oldest_age_seconds {age}\n",
            self.delivered.load(Relaxed),
            self.failures.load(Relaxed),
            self.depth.load(Relaxed),
        );
    }
}
