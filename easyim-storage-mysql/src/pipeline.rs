//! [`MysqlCommit`]: one transaction of the node's commit pipeline
//! ([`easyim_core::CommitPipeline`], which gathers the message batches of every connection):
//! the batches stored exactly as their messages one after the other (`batch.rs`), retried
//! whole on a deadlock.

use async_trait::async_trait;
use easyim_core::{BatchCommit, EventKind, NewMessage, StorageError, StoreOutcome};
use mysql_async::Pool;

use crate::error::{DbError, Result};
use crate::{get_conn, retrying};

/// Stores gathered batches on MySQL or MariaDB.
pub(crate) struct MysqlCommit {
    pub(crate) pool: Pool,
}

#[async_trait]
impl BatchCommit for MysqlCommit {
    async fn commit(
        &self,
        msgs: Vec<NewMessage>,
        events: &[EventKind],
    ) -> Result<Vec<StoreOutcome>> {
        let wants = |k: EventKind| events.contains(&k);
        retrying(|| async {
            let mut conn = get_conn(&self.pool).await?;
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            let out = crate::batch::store(&mut tx, &msgs, &wants).await?;
            tx.commit().await?;
            Ok::<_, DbError>(out)
        })
        .await
        .map_err(StorageError::from)
    }
}
