//! [`PgCommit`]: one transaction of the node's commit pipeline
//! ([`easyim_core::CommitPipeline`], which gathers the message batches of every connection):
//! one call of `easyim_store_messages` (migrations/v8_store_batch.sql, as migration 10
//! restates it), which stores the batches exactly as their messages one after the other.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use easyim_core::{BatchCommit, EventKind, NewMessage, StorageError, StoreOutcome};

use crate::error::Result;
use crate::messages::{store_outcome, store_rows};

/// Stores gathered batches on PostgreSQL.
pub(crate) struct PgCommit {
    pub(crate) pool: Pool,
}

#[async_trait]
impl BatchCommit for PgCommit {
    async fn commit(
        &self,
        msgs: Vec<NewMessage>,
        events: &[EventKind],
    ) -> Result<Vec<StoreOutcome>> {
        let kinds: Vec<&'static str> = events.iter().map(|k| k.as_str()).collect();
        let rows = store_rows(&self.pool, &msgs, &kinds)
            .await
            .map_err(StorageError::from)?;
        // Fewer rows than messages leaves outcomes missing, which the pipeline reports.
        Ok(msgs
            .into_iter()
            .zip(&rows)
            .map(|(m, r)| store_outcome(m, r))
            .collect())
    }
}
