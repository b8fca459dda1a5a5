//! [`OutboxStore`] for [`MemoryStorage`]: the events in id order.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStorage;
use crate::error::Result;
use crate::events::{EventFilter, NewEvent, OutboxEvent, OutboxStats};
use crate::storage::OutboxStore;

/// An event waiting, and who may take it when.
#[derive(Debug)]
struct Waiting {
    event: OutboxEvent,
    /// Not claimable before (a retry's time).
    due_ms: i64,
    /// Claimed until (0: not claimed).
    lease_ms: i64,
}

/// The outbox: events by id.
#[derive(Debug, Default)]
pub(super) struct Events {
    next: u64,
    waiting: BTreeMap<u64, Waiting>,
}

impl Events {
    /// Appends `event` with the next id.
    pub(super) fn push(&mut self, event: NewEvent) {
        self.next += 1;
        let id = self.next;
        self.waiting.insert(
            id,
            Waiting {
                event: OutboxEvent {
                    id,
                    kind: event.kind,
                    key: event.key,
                    data: event.data,
                    created_ms: event.created_ms,
                    attempts: 0,
                },
                due_ms: 0,
                lease_ms: 0,
            },
        );
    }

    /// Appends `events` in order (a change's events, under the lock of the change).
    pub(super) fn extend(&mut self, events: impl IntoIterator<Item = NewEvent>) {
        for e in events {
            self.push(e);
        }
    }

    /// [`Events::extend`] with borrowed events.
    pub(super) fn push_all(&mut self, events: &[NewEvent]) {
        for e in events {
            self.push(e.clone());
        }
    }
}

#[async_trait]
impl OutboxStore for MemoryStorage {
    fn event_filter(&self) -> &EventFilter {
        &self.events
    }

    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let mut st = self.lock();
        // Keys with an earlier event that cannot be claimed now: their later events wait.
        let mut blocked = std::collections::HashSet::new();
        let mut out = Vec::new();
        for w in st.outbox.waiting.values_mut() {
            if out.len() >= limit {
                break;
            }
            if blocked.contains(&w.event.key) {
                continue;
            }
            if w.due_ms > now_ms || w.lease_ms > now_ms {
                blocked.insert(w.event.key.clone());
                continue;
            }
            w.lease_ms = now_ms.saturating_add(lease_ms.max(1));
            out.push(w.event.clone());
        }
        Ok(out)
    }

    async fn ack_events(&self, ids: &[u64]) -> Result<()> {
        let mut st = self.lock();
        for id in ids {
            st.outbox.waiting.remove(id);
        }
        Ok(())
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()> {
        let mut st = self.lock();
        for id in ids {
            if let Some(w) = st.outbox.waiting.get_mut(id) {
                w.due_ms = due_ms;
                w.lease_ms = 0;
                w.event.attempts = w.event.attempts.saturating_add(1);
            }
        }
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats> {
        let st = self.lock();
        Ok(OutboxStats {
            depth: st.outbox.waiting.len() as u64,
            oldest_ms: st.outbox.waiting.values().map(|w| w.event.created_ms).min(),
        })
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        let mut st = self.lock();
        for e in events {
            st.outbox.push(e);
        }
        Ok(())
    }
}
