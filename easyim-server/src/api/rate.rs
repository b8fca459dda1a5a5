//! Per-IP token buckets: register, login and group join (`API_RATE_LIMIT`), and wrong admin
//! tokens.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Instant;

/// How many client IPs are tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

/// `rate` requests per second per IP, with a burst of `rate`; 0 lets everything through.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Tokens per second; 0 lets everything through.
    rate: f64,
    /// Most tokens a bucket holds.
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub(crate) fn new(rate: u32) -> Self {
        RateLimiter::with_burst(f64::from(rate), rate)
    }

    /// `rate` tokens per second per IP (0: no limit), at most `burst` at a time.
    pub(crate) fn with_burst(rate: f64, burst: u32) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst),
            buckets: Mutex::default(),
        }
    }

    /// Whether `ip` has no token left now (takes none).
    pub(crate) fn exhausted(&self, ip: Option<IpAddr>) -> bool {
        self.take(ip, false).is_some_and(|left| !left)
    }

    /// Takes one token for `ip` (callers without a known address share one bucket); false if
    /// there is none left.
    pub(crate) fn allow(&self, ip: Option<IpAddr>) -> bool {
        self.take(ip, true).unwrap_or(true)
    }

    /// Refills `ip`'s bucket and says whether it holds a token, taking it if `take`; `None`
    /// when there is no limit.
    fn take(&self, ip: Option<IpAddr>, take: bool) -> Option<bool> {
        if self.rate <= 0.0 {
            return None;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            // A bucket idle long enough to refill is full again: forgetting it changes nothing.
            let full = self.burst / self.rate;
            buckets.retain(|_, b| now.duration_since(b.last).as_secs_f64() < full);
        }
        let b = buckets
            .entry(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .or_insert(Bucket {
                tokens: self.burst,
                last: now,
            });
        let refill = now.duration_since(b.last).as_secs_f64() * self.rate;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.last = now;
        let has = b.tokens >= 1.0;
        if has && take {
            b.tokens -= 1.0;
        }
        Some(has)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_per_ip() {
        let l = RateLimiter::new(2);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
        assert!(RateLimiter::new(0).allow(a));
    }

    #[test]
    fn exhausted_takes_nothing() {
        let l = RateLimiter::with_burst(0.01, 2);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(!l.exhausted(a) && !l.exhausted(a));
        assert!(l.allow(a) && l.allow(a));
        assert!(l.exhausted(a) && !l.allow(a));
        assert!(!RateLimiter::new(0).exhausted(a));
    }
}
