//! The per-connection rate limit (`RATE_LIMIT`, protocol.md section 6): a token bucket.

/// A token bucket: `rate` tokens per second, holding at most `rate`.
#[derive(Debug)]
pub(super) struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` tokens, refilled at `rate` per second.
    pub(super) fn new(rate: u32) -> Self {
        TokenBucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: tokio::time::Instant::now(),
        }
    }

    /// Takes a token; false if there is none (the frame is over the limit).
    pub(super) fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
