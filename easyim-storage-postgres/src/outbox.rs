//! [`OutboxStore`] for [`PgStorage`]: the `outbox` table (migration 9).
//!
//! Several nodes share it. A claim is one short transaction that takes a transaction-level
//! advisory lock first, so claims run one after the other and each sees the leases the one
//! before it committed: no event is claimed by two nodes at once, and a key's later events
//! are not claimed while an earlier one is leased elsewhere. A node that dies holding a lease
//! lets it run out; its events are then claimed again (delivery is at least once).
//!
//! A change that reports events ([`PgStorage::query_reporting`]) runs its statement and the
//! insert of its events in one transaction.

use async_trait::async_trait;
use easyim_core::{
    EventFilter, EventKind, NewEvent, OutboxEvent, OutboxStats, OutboxStore, StorageError,
};

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::{DbError, Result};
use crate::rows::to_i64;
use crate::PgStorage;

/// Inserts the events of `$1`..`$4` (kinds, keys, data, times) in the order given.
const APPEND_SQL: &str = "
    INSERT INTO outbox (kind, key, data, created_ms)
    SELECT k, y, d, t FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
        WITH ORDINALITY AS e (k, y, d, t, i)
    ORDER BY i";

/// The columns of `events` as the parameters of [`APPEND_SQL`].
type Columns<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>, Vec<i64>);

fn columns(events: &[NewEvent]) -> Columns<'_> {
    (
        events.iter().map(|e| e.kind.as_str()).collect(),
        events.iter().map(|e| e.key.as_str()).collect(),
        events.iter().map(|e| e.data.as_str()).collect(),
        events.iter().map(|e| e.created_ms).collect(),
    )
}

impl PgStorage {
    /// Runs the change `sql` and, if `report` is given, inserts the events it makes of the
    /// change's rows (none when the rows say nothing changed), in one transaction, retried on
    /// deadlocks and serialization failures. Without `report`, one statement as
    /// [`PgStorage::query`]: webhooks off cost nothing more.
    pub(crate) async fn query_reporting<F>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        report: Option<F>,
    ) -> Result<Vec<Row>, DbError>
    where
        F: Fn(&[Row]) -> Vec<NewEvent> + Send + Sync,
    {
        let Some(report) = report else {
            return self.query(sql, params).await;
        };
        crate::retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let stmt = tx.prepare_cached(sql).await?;
            let rows = tx.query(&stmt, params).await?;
            let events = report(&rows);
            if !events.is_empty() {
                let (kinds, keys, data, at) = columns(&events);
                let append = tx.prepare_cached(APPEND_SQL).await?;
                tx.execute(&append, &[&kinds, &keys, &data, &at]).await?;
            }
            tx.commit().await?;
            Ok(rows)
        })
        .await
    }

    /// [`PgStorage::query_reporting`] of a change to a group that the groups service built
    /// `events` for: written if `made` says the rows are those of a change made.
    pub(crate) async fn query_with_events(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        events: &[NewEvent],
        made: impl Fn(&[Row]) -> bool + Send + Sync,
    ) -> Result<Vec<Row>, DbError> {
        let report = (!events.is_empty()).then_some(|rows: &[Row]| {
            if made(rows) {
                events.to_vec()
            } else {
                Vec::new()
            }
        });
        self.query_reporting(sql, params, report).await
    }
}

/// The advisory lock key that serializes claims (`"eiobox"` in ASCII).
const CLAIM_LOCK: i64 = 0x6569_6f62_6f78;

/// As in SQLite: the first `$1` claimable events by id get a lease until `$2 + $3`.
const CLAIM_SQL: &str = "
    UPDATE outbox SET lease_ms = $2 + $3
    WHERE id IN (
        SELECT o.id FROM outbox o
        WHERE o.due_ms <= $2 AND o.lease_ms <= $2
          AND NOT EXISTS (
              SELECT 1 FROM outbox p
              WHERE p.key = o.key AND p.id < o.id AND (p.due_ms > $2 OR p.lease_ms > $2))
        ORDER BY o.id
        LIMIT $1)
    RETURNING id, kind, key, data, created_ms, attempts";

#[async_trait]
impl OutboxStore for PgStorage {
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
        let rows = crate::retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK])
                .await?;
            let stmt = tx.prepare_cached(CLAIM_SQL).await?;
            let rows = tx.query(&stmt, &[&limit, &now_ms, &lease]).await?;
            tx.commit().await?;
            Ok::<_, DbError>(rows)
        })
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let kind: String = r.get(1);
            let kind = kind
                .parse::<EventKind>()
                .map_err(|e| StorageError::unavailable_msg(format!("outbox event {id}: {e}")))?;
            out.push(OutboxEvent {
                id: id as u64,
                kind,
                key: r.get(2),
                data: r.get(3),
                created_ms: r.get(4),
                attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
            });
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    async fn ack_events(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| to_i64(i)).collect();
        self.execute("DELETE FROM outbox WHERE id = ANY($1)", &[&ids])
            .await?;
        Ok(())
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = ids.iter().map(|&i| to_i64(i)).collect();
        self.execute(
            "UPDATE outbox SET attempts = attempts + 1, due_ms = $2, lease_ms = 0
             WHERE id = ANY($1)",
            &[&ids, &due_ms],
        )
        .await?;
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats> {
        let r = self
            .query_one("SELECT count(*), min(created_ms) FROM outbox", &[])
            .await?;
        Ok(OutboxStats {
            depth: r.get::<_, i64>(0) as u64,
            oldest_ms: r.get(1),
        })
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let (kinds, keys, data, at) = columns(&events);
        self.execute(APPEND_SQL, &[&kinds, &keys, &data, &at])
            .await?;
        Ok(())
    }
}
