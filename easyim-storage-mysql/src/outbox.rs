//! [`OutboxStore`] for [`MysqlStorage`]: the `outbox` table.
//!
//! Events are written by the transaction of what they report ([`insert_events`]). Several
//! nodes share the table. A claim is one short transaction that first locks one row (the
//! `outbox_claims` setting), so claims run one after the other and each sees the leases the
//! one before it committed: no event is claimed by two nodes at once, and a key's later
//! events are not claimed while an earlier one is leased elsewhere. A node that dies holding
//! a lease lets it run out; its events are then claimed again (delivery is at least once).

use async_trait::async_trait;
use easyim_core::{
    EventFilter, EventKind, NewEvent, OutboxEvent, OutboxStats, OutboxStore, StorageError,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction, Value};

use crate::error::{DbError, Result};
use crate::rows::{exec_count, exec_rows, get, map_rows, rows_in, to_i64, vals};
use crate::{transaction, MysqlStorage};

/// As on SQLite and PostgreSQL: the first `limit` events by id that are due, not leased, and
/// have no earlier event of their key that is not.
const CLAIMABLE_SQL: &str = "
    SELECT o.id, o.kind, o.ev_key, o.data, o.created_ms, o.attempts FROM outbox o
    WHERE o.due_ms <= ? AND o.lease_ms <= ?
      AND NOT EXISTS (
          SELECT 1 FROM outbox p
          WHERE p.ev_key = o.ev_key AND p.id < o.id AND (p.due_ms > ? OR p.lease_ms > ?))
    ORDER BY o.id
    LIMIT ?";

/// Inserts `events`, in order, inside the caller's transaction: the one writing what they
/// report, so that an event exists exactly when its change committed.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'_>,
    events: &[NewEvent],
) -> Result<(), DbError> {
    exec_rows(
        tx,
        "INSERT INTO outbox (kind, ev_key, data, created_ms) VALUES {list}",
        "(?, ?, ?, ?)",
        events
            .iter()
            .map(|e| {
                vals![
                    e.kind.as_str(),
                    e.key.as_str(),
                    e.data.as_str(),
                    e.created_ms
                ]
            })
            .collect(),
    )
    .await
}

impl MysqlStorage {
    /// Runs the UPDATE `sql` and, in the same transaction, inserts `events` when its row
    /// exists; `found` (a SELECT of that row) tells when the update changed nothing because
    /// it set what was there already. Whether the row exists (no event is written otherwise).
    pub(crate) async fn update_reporting(
        &self,
        sql: &str,
        params: Vec<Value>,
        found: &str,
        found_params: Vec<Value>,
        events: &[NewEvent],
    ) -> Result<bool, DbError> {
        transaction!(self, |tx| {
            let changed = exec_count(&mut tx, sql, params.clone()).await? > 0;
            let exists = changed
                || tx
                    .exec_first::<i64, _, _>(found, found_params.clone())
                    .await?
                    .is_some();
            if exists {
                insert_events(&mut tx, events).await?;
            }
            exists
        })
    }
}

fn event_row(r: &Row) -> Result<OutboxEvent, DbError> {
    let id: i64 = get(r, 0)?;
    let kind: String = get(r, 1)?;
    let kind = kind.parse::<EventKind>().map_err(|e| {
        DbError::Storage(StorageError::unavailable_msg(format!(
            "outbox event {id}: {e}"
        )))
    })?;
    Ok(OutboxEvent {
        id: id as u64,
        kind,
        key: get(r, 2)?,
        data: get(r, 3)?,
        created_ms: get(r, 4)?,
        attempts: u32::try_from(get::<i64>(r, 5)?).unwrap_or(0),
    })
}

#[async_trait]
impl OutboxStore for MysqlStorage {
    fn event_filter(&self) -> &EventFilter {
        &self.events
    }

    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease = lease_ms.max(1);
        let claimed = transaction!(self, |tx| {
            tx.exec_drop(
                "SELECT value FROM settings WHERE name = 'outbox_claims' FOR UPDATE",
                vals![],
            )
            .await?;
            let rows: Vec<Row> = tx
                .exec(
                    CLAIMABLE_SQL,
                    vals![now_ms, now_ms, now_ms, now_ms, to_i64(limit)],
                )
                .await?;
            let events = map_rows(rows, event_row)?;
            let ids: Vec<i64> = events.iter().map(|e| e.id as i64).collect();
            rows_in(
                &mut tx,
                "UPDATE outbox SET lease_ms = ? WHERE id IN ({list})",
                &[Value::from(now_ms.saturating_add(lease))],
                &ids,
            )
            .await?;
            events
        })?;
        Ok(claimed)
    }

    async fn ack_events(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| to_i64(i)).collect();
        transaction!(self, |tx| {
            rows_in(
                &mut tx,
                "DELETE FROM outbox WHERE id IN ({list})",
                &[],
                &ids,
            )
            .await?;
        })?;
        Ok(())
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| to_i64(i)).collect();
        transaction!(self, |tx| {
            rows_in(
                &mut tx,
                "UPDATE outbox SET attempts = attempts + 1, due_ms = ?, lease_ms = 0
                 WHERE id IN ({list})",
                &[Value::from(due_ms)],
                &ids,
            )
            .await?;
        })?;
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats> {
        let row = self
            .row("SELECT COUNT(*), MIN(created_ms) FROM outbox", vals![])
            .await?;
        let Some(r) = row else {
            return Ok(OutboxStats {
                depth: 0,
                oldest_ms: None,
            });
        };
        Ok(OutboxStats {
            depth: get::<i64>(&r, 0)? as u64,
            oldest_ms: get(&r, 1)?,
        })
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        transaction!(self, |tx| {
            insert_events(&mut tx, &events).await?;
        })?;
        Ok(())
    }
}
