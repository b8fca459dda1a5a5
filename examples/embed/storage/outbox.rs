//! The `OutboxStore` part of [`TableStorage`]: the `outbox` table
//! `(id PRIMARY KEY, kind, key, data, created_ms, attempts, due_ms, lease_ms)`.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use easyim_core::{EventFilter, NewEvent, OutboxEvent, OutboxStats, OutboxStore, Result};

use super::TableStorage;

/// The `outbox` table: rows by id, with the retry time and the lease of each.
#[derive(Debug, Default)]
pub(super) struct OutboxTable {
    last_id: u64,
    rows: BTreeMap<u64, (OutboxEvent, i64, i64)>,
}

impl OutboxTable {
    /// `INSERT INTO outbox ...` with the next id.
    pub(super) fn insert(&mut self, e: NewEvent) {
        self.last_id += 1;
        let event = OutboxEvent {
            id: self.last_id,
            kind: e.kind,
            key: e.key,
            data: e.data,
            created_ms: e.created_ms,
            attempts: 0,
        };
        self.rows.insert(self.last_id, (event, 0, 0));
    }

    /// Inserts a change's `events` in order, in the step of the change.
    pub(super) fn insert_all(&mut self, events: &[NewEvent]) {
        for e in events {
            self.insert(e.clone());
        }
    }
}

#[async_trait]
impl OutboxStore for TableStorage {
    fn event_filter(&self) -> &EventFilter {
        &self.events
    }

    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let mut db = self.db();
        let mut blocked = HashSet::new();
        let mut out = Vec::new();
        for (event, due, lease) in db.outbox.rows.values_mut() {
            if out.len() >= limit {
                break;
            }
            if blocked.contains(&event.key) {
                continue;
            }
            if *due > now_ms || *lease > now_ms {
                blocked.insert(event.key.clone());
                continue;
            }
            *lease = now_ms.saturating_add(lease_ms.max(1));
            out.push(event.clone());
        }
        Ok(out)
    }

    async fn ack_events(&self, ids: &[u64]) -> Result<()> {
        let mut db = self.db();
        for id in ids {
            db.outbox.rows.remove(id);
        }
        Ok(())
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()> {
        let mut db = self.db();
        for id in ids {
            if let Some((event, due, lease)) = db.outbox.rows.get_mut(id) {
                event.attempts = event.attempts.saturating_add(1);
                *due = due_ms;
                *lease = 0;
            }
        }
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats> {
        let db = self.db();
        Ok(OutboxStats {
            depth: db.outbox.rows.len() as u64,
            oldest_ms: db.outbox.rows.values().map(|(e, _, _)| e.created_ms).min(),
        })
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        let mut db = self.db();
        for e in events {
            db.outbox.insert(e);
        }
        Ok(())
    }
}
