//! [`Throttle`]: at most one event per key in a time interval, over a bounded table.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one event per key through per `interval`; the others are refused. Remembers at most
/// `capacity` keys: when full, the keys whose interval has passed are forgotten first, and if
/// none has, the table starts over (letting a few events through early rather than growing).
#[derive(Debug)]
pub(crate) struct Throttle<K = (u64, crate::types::Conversation)> {
    interval: Duration,
    capacity: usize,
    last: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq> Throttle<K> {
    /// A throttle of one event per key per `interval`, remembering at most `capacity` keys.
    pub(crate) fn new(interval: Duration, capacity: usize) -> Self {
        Throttle {
            interval,
            capacity: capacity.max(1),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event of `key` at `now` may go through (and, if so, notes it).
    pub(crate) fn allow(&self, key: K, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = last.get(&key) {
            if now.saturating_duration_since(*at) < self.interval {
                return false;
            }
        } else if last.len() >= self.capacity {
            let interval = self.interval;
            last.retain(|_, at| now.saturating_duration_since(*at) < interval);
            if last.len() >= self.capacity {
                last.clear();
            }
        }
        last.insert(key, now);
        true
    }

    /// How many keys it remembers now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_interval_per_key() {
        let t: Throttle<u32> = Throttle::new(Duration::from_secs(1), 10);
        let t0 = Instant::now();
        assert!(t.allow(1, t0));
        assert!(!t.allow(1, t0 + Duration::from_millis(999)));
        assert!(t.allow(2, t0), "another key is not held back");
        assert!(t.allow(1, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn the_table_stays_bounded() {
        let t: Throttle<u32> = Throttle::new(Duration::from_secs(1), 3);
        let t0 = Instant::now();
        for k in 0..3 {
            assert!(t.allow(k, t0));
        }
        // Full, none expired: it starts over.
        assert!(t.allow(3, t0));
        assert_eq!(t.len(), 1);
        for k in 4..6 {
            assert!(t.allow(k, t0));
        }
        // Full, all expired: they go, the new key stays.
        assert!(t.allow(9, t0 + Duration::from_secs(2)));
        assert_eq!(t.len(), 1);
        assert!(!t.allow(9, t0 + Duration::from_secs(2)));
    }
}
