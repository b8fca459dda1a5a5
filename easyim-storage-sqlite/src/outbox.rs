//! [`OutboxStore`] for [`SqliteStorage`]: the `outbox` table (schema version 8). Events are
//! inserted by the write that reports them ([`insert_event`], inside its transaction); claims,
//! acks and retries go through the writer thread like every write.

use async_trait::async_trait;
use easyim_core::{
    EventFilter, EventKind, NewEvent, OutboxEvent, OutboxStats, OutboxStore, StorageError,
};
use rusqlite::{params, Connection};

use crate::error::Result;
use crate::rows::to_i64;
use crate::SqliteStorage;

/// The events claimable at `?2`: due, not leased, and no earlier event of their key that is
/// not; the first `?1` of them by id get a lease until `?2 + ?3`.
const CLAIM_SQL: &str = "
    UPDATE outbox SET lease_ms = ?2 + ?3
    WHERE id IN (
        SELECT o.id FROM outbox o
        WHERE o.due_ms <= ?2 AND o.lease_ms <= ?2
          AND NOT EXISTS (
              SELECT 1 FROM outbox p
              WHERE p.key = o.key AND p.id < o.id AND (p.due_ms > ?2 OR p.lease_ms > ?2))
        ORDER BY o.id
        LIMIT ?1)
    RETURNING id, kind, key, data, created_ms, attempts";

/// Inserts `event` (inside the caller's transaction).
pub(crate) fn insert_event(c: &Connection, event: &NewEvent) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT INTO outbox (kind, key, data, created_ms) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            event.kind.as_str(),
            event.key,
            event.data,
            event.created_ms
        ])?;
    Ok(())
}

/// Inserts `events` in order (inside the caller's transaction).
pub(crate) fn insert_events(c: &Connection, events: &[NewEvent]) -> rusqlite::Result<()> {
    for event in events {
        insert_event(c, event)?;
    }
    Ok(())
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, i64, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

#[async_trait]
impl OutboxStore for SqliteStorage {
    fn event_filter(&self) -> &EventFilter {
        &self.events
    }

    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEvent>> {
        let limit = to_i64(limit as u64);
        let lease = lease_ms.max(1);
        let rows = self
            .write(move |c| {
                let mut stmt = c.prepare_cached(CLAIM_SQL)?;
                let rows = stmt.query_map(params![limit, now_ms, lease], event_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, kind, key, data, created_ms, attempts) in rows {
            let kind = kind
                .parse::<EventKind>()
                .map_err(|e| StorageError::unavailable_msg(format!("outbox event {id}: {e}")))?;
            out.push(OutboxEvent {
                id: id as u64,
                kind,
                key,
                data,
                created_ms,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        // RETURNING gives no order.
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    async fn ack_events(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |c| {
            let mut stmt = c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            for &id in &ids {
                stmt.execute([to_i64(id)])?;
            }
            Ok(())
        })
        .await
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |c| {
            let mut stmt = c.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, due_ms = ?2, lease_ms = 0
                 WHERE id = ?1",
            )?;
            for &id in &ids {
                stmt.execute(params![to_i64(id), due_ms])?;
            }
            Ok(())
        })
        .await
    }

    async fn outbox_stats(&self) -> Result<OutboxStats> {
        self.read(|c| {
            let (depth, oldest): (i64, Option<i64>) = c
                .prepare_cached("SELECT count(*), min(created_ms) FROM outbox")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(OutboxStats {
                depth: depth as u64,
                oldest_ms: oldest,
            })
        })
        .await
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(move |c| {
            for e in &events {
                insert_event(c, e)?;
            }
            Ok(())
        })
        .await
    }
}
