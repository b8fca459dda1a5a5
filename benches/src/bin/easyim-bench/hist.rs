//! A latency histogram: log-linear buckets of microseconds, ~3 % resolution.

/// Counts of values in log-linear buckets: exact below 64, then 32 buckets per power of two.
#[derive(Debug, Clone)]
pub(crate) struct Hist {
    buckets: Vec<u64>,
    n: u64,
}

impl Hist {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        Hist {
            buckets: vec![0; 64 + 60 * 32],
            n: 0,
        }
    }

    /// The bucket of a value.
    fn index(v: u64) -> usize {
        if v < 64 {
            v as usize
        } else {
            let e = 63 - v.leading_zeros() as u64; // >= 6
            let m = (v >> (e - 5)) & 31;
            (64 + (e - 6) * 32 + m) as usize
        }
    }

    /// The middle of a bucket.
    fn value(i: usize) -> u64 {
        if i < 64 {
            i as u64
        } else {
            let e = ((i - 64) / 32 + 6) as u64;
            let m = ((i - 64) % 32) as u64;
            ((32 + m) << (e - 5)) + (1u64 << (e - 5)) / 2
        }
    }

    /// Counts one value, in microseconds.
    pub(crate) fn record(&mut self, us: u64) {
        let i = Self::index(us).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.n += 1;
    }

    /// Adds another histogram's counts to this one.
    pub(crate) fn merge(&mut self, o: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.n += o.n;
    }

    /// Quantile in milliseconds (NaN if empty).
    pub(crate) fn q_ms(&self, q: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let target = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            acc += c;
            if acc >= target {
                return Self::value(i) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
}
