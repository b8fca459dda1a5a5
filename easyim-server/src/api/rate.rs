//! Per-IP token buckets for register and login (`API_RATE_LIMIT`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Instant;

/// How many client IPs are tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

/// `rate` requests per second per IP, with a burst of `rate`; 0 lets everything through.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub(crate) fn new(rate: u32) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `ip` (callers without a known address share one bucket); false if
    /// there is none left.
    pub(crate) fn allow(&self, ip: Option<IpAddr>) -> bool {
        if self.rate == 0 {
            return true;
        }
        let rate = f64::from(self.rate);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            // A bucket idle for a second is full again: forgetting it changes nothing.
            buckets.retain(|_, b| now.duration_since(b.last).as_secs_f64() < 1.0);
        }
        let b = buckets
            .entry(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .or_insert(Bucket {
                tokens: rate,
                last: now,
            });
        let refill = now.duration_since(b.last).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
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
}
