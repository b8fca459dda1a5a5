//! [`EventFilter`]: which kinds of event a storage writes into its outbox.

use std::sync::atomic::{AtomicU32, Ordering};

use super::EventKind;

/// Which kinds of event a storage writes, switched at run time (the server turns it on when
/// `WEBHOOK_URL` is set). Empty by default: nothing is written, and asking costs one relaxed
/// atomic load.
#[derive(Debug, Default)]
pub struct EventFilter(AtomicU32);

impl EventFilter {
    /// Writes exactly `kinds` from now on (none: the outbox is off).
    pub fn set(&self, kinds: &[EventKind]) {
        let bits = kinds.iter().fold(0, |b, k| b | k.bit());
        self.0.store(bits, Ordering::Relaxed);
    }

    /// Whether events of `kind` are written.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.0.load(Ordering::Relaxed) & kind.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_set_selects_exactly() {
        let f = EventFilter::default();
        assert!(!f.wants(EventKind::MessageCreated));
        f.set(&[EventKind::UserRegistered]);
        assert!(f.wants(EventKind::UserRegistered));
        assert!(!f.wants(EventKind::MessageCreated));
        f.set(&EventKind::ALL);
        assert!(EventKind::ALL.iter().all(|&k| f.wants(k)));
        f.set(&[]);
        assert!(!f.wants(EventKind::UserRegistered));
    }
}
