//! easyim-storage-mysql: easyim's [`Storage`](easyim_core::Storage) on MySQL or MariaDB, for
//! many easyim nodes sharing one database.
//!
//! [`MysqlStorage`] talks to the server with `mysql_async` through its bounded pool.
//! [`MysqlStorage::connect`] (or [`MysqlStorage::from_url`]) opens the pool and brings the schema to
//! the current version: versioned migrations, applied under a named lock (`GET_LOCK`), so
//! that any number of nodes may start at once. Tables are InnoDB, `utf8mb4` with a binary
//! collation (comparisons are exact, as on SQLite and PostgreSQL). MariaDB 10.11 and MySQL 8
//! both work.
//!
//! **Transactions.** MySQL has no functions returning rows, so a `Storage` call that needs
//! several statements runs them in one transaction of its own (`READ COMMITTED`, set on every
//! connection: each statement sees what committed before it, and no gap locks make writers
//! of different rows wait for each other). Every value travels as a bound parameter of a
//! prepared statement; statements over a variable number of rows are cut into chunks of a
//! few fixed sizes (`rows::chunks`), so a connection's statement cache stays small and warm.
//!
//! **`conv_seq` across nodes.** Each conversation has a row in `convs`; storing messages locks
//! the rows of their conversations (in key order, so two batches never deadlock), checks
//! idempotency under the lock, and hands out `last_seq + 1, + 2, ...`. Writers of one
//! conversation, on any node, are so serialized: `conv_seq` is gapless and unique, and a resend
//! racing its original is a `Duplicate`, never an error. The batches of every connection of a
//! node that wait at the same moment are stored in one transaction with multi-row inserts
//! (the commit pipeline, `pipeline.rs`).
//!
//! **Pending.** One row per message and one cursor per (user, conversation), never a row per
//! recipient: a message is pending for a user while its `conv_seq` is past the user's cursor.
//! The `order` of a pending message is `gseq`, the `AUTO_INCREMENT` key given while the
//! conversation is locked, so within a conversation it follows commit order exactly (across
//! conversations, as on PostgreSQL, the engine's live delivery covers a late commit).
//!
//! **Errors.** A lost connection, a server error, a pool timeout: every backend failure is
//! [`StorageError::Unavailable`], never a panic. Deadlocks and lock wait timeouts reported by
//! the server are retried a few times first (the server rolled the transaction back).
//!
//! ```no_run
//! # async fn demo() -> Result<(), easyim_core::StorageError> {
//! use std::sync::Arc;
//! use easyim_core::Storage;
//! use easyim_storage_mysql::MysqlStorage;
//!
//! let storage = MysqlStorage::from_url("mysql://easyim:secret@127.0.0.1:3306/easyim").await?;
//! let storage: Arc<dyn Storage> = Arc::new(storage);
//! storage.ping().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Modules (private; the types users need are re-exported here):
//! - `config`: [`MysqlConfig`] and [`ConfigError`].
//! - `error`: `DbError`, what a call fails with before it becomes a [`StorageError`].
//! - `schema`: the versioned migrations and how they are applied.
//! - `rows`: row mapping into the core's types, and the chunking of multi-row statements.
//! - `pipeline`: one transaction of the commit pipeline (`easyim_core::CommitPipeline`), which
//!   gathers message batches into few transactions.
//! - `batch`: how one transaction stores a batch of messages.
//! - `accounts`, `friends`, `groups`, `messages`, `conversations`, `moderation`, `devices`,
//!   `outbox`: the storage traits of `easyim-core`, one file each.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use easyim_core::{CommitPipeline, EventFilter, StorageError};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool, Row, Value};

mod accounts;
mod batch;
mod config;
mod conversations;
mod devices;
mod error;
mod friends;
mod groups;
mod locks;
mod messages;
mod moderation;
mod outbox;
mod pipeline;
mod rows;
mod schema;

pub use config::{ConfigError, MysqlConfig};

use error::{DbError, Result};
use pipeline::MysqlCommit;

/// How many times a call is retried when the server reports a deadlock or a lock wait
/// timeout (its transaction was rolled back, so a retry is safe).
const RETRIES: usize = 3;
/// How long a call waits for a free connection of the pool, or to open a new one.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `$body` (an expression that may `.await` and `?`) in one transaction on a connection
/// of `$storage`'s pool, named `$tx` inside the body; commits if it succeeds, rolls back if not
/// (dropping the transaction does), and runs it again on a deadlock (see [`retrying`]).
macro_rules! transaction {
    ($storage:expr, |$tx:ident| $body:expr) => {
        $crate::retrying(|| async {
            let mut conn = $storage.conn().await?;
            let mut $tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            let out = $body;
            $tx.commit().await?;
            Ok(out)
        })
        .await
    };
}
pub(crate) use transaction;

/// easyim's [`Storage`](easyim_core::Storage) on MySQL or MariaDB; see the
/// [crate docs](crate) for how it works.
///
/// Cheap to share as `Arc<dyn Storage>`: calls run concurrently on the pool's connections.
/// Several `MysqlStorage`s, in one process or on many nodes, may share one database.
pub struct MysqlStorage {
    pool: Pool,
    config: MysqlConfig,
    pipeline: CommitPipeline,
    /// Which webhook events writes put into the outbox (`outbox.rs`).
    events: Arc<EventFilter>,
}

impl fmt::Debug for MysqlStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlStorage")
            .field("config", &self.config)
            .field("commit_pipeline_in_flight", &self.pipeline.in_flight())
            .finish()
    }
}

impl MysqlStorage {
    /// Opens a pool of up to `config.pool_size` connections and brings the schema to the
    /// current version. `Unavailable` if the database cannot be reached, or holds a newer
    /// schema than this build knows.
    pub async fn connect(config: MysqlConfig) -> Result<MysqlStorage> {
        let pool = Pool::new(config.opts());
        let mut conn = get_conn(&pool).await?;
        schema::migrate(&mut conn).await?;
        drop(conn);
        // An eighth of the pool (2 of the default 16) stores messages at once: fewer, larger
        // transactions cost the server less per message; the rest serves everything else.
        let events = Arc::new(EventFilter::default());
        let pipeline = CommitPipeline::start(
            "MySQL",
            std::sync::Arc::new(MysqlCommit { pool: pool.clone() }),
            config.pool_size / 8,
            events.clone(),
        );
        let storage = MysqlStorage {
            pool,
            config,
            pipeline,
            events,
        };
        tracing::info!(
            host = %storage.config.host,
            port = storage.config.port,
            dbname = %storage.config.dbname,
            "MySQL storage open"
        );
        Ok(storage)
    }

    /// [`MysqlStorage::connect`] with [`MysqlConfig::from_url`].
    pub async fn from_url(url: &str) -> Result<MysqlStorage> {
        MysqlStorage::connect(MysqlConfig::from_url(url)?).await
    }

    /// The configuration the storage was opened with.
    pub fn config(&self) -> &MysqlConfig {
        &self.config
    }

    async fn conn(&self) -> Result<Conn, DbError> {
        get_conn(&self.pool).await
    }

    /// Runs one statement (autocommit) and returns its rows, retrying deadlocks.
    async fn rows(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        retrying(|| async {
            let mut conn = self.conn().await?;
            Ok(conn.exec(sql, params.clone()).await?)
        })
        .await
    }

    /// Runs one statement and returns its first row, if any.
    async fn row(&self, sql: &str, params: Vec<Value>) -> Result<Option<Row>, DbError> {
        retrying(|| async {
            let mut conn = self.conn().await?;
            Ok(conn.exec_first(sql, params.clone()).await?)
        })
        .await
    }

    /// Runs one statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        retrying(|| async {
            let mut conn = self.conn().await?;
            rows::exec_count(&mut conn, sql, params.clone()).await
        })
        .await
    }
}

/// A connection of `pool`, waiting at most [`POOL_TIMEOUT`].
async fn get_conn(pool: &Pool) -> Result<Conn, DbError> {
    match tokio::time::timeout(POOL_TIMEOUT, pool.get_conn()).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(DbError::PoolTimeout(POOL_TIMEOUT)),
    }
}

/// Runs `call` (one transaction) and again, up to [`RETRIES`] more times, while the server
/// reports a deadlock or a lock wait timeout (the transaction was rolled back, so a retry is
/// safe).
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.retryable() && attempt < RETRIES => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "MySQL: retrying");
            }
            other => return other,
        }
    }
}

impl From<ConfigError> for StorageError {
    fn from(e: ConfigError) -> Self {
        StorageError::unavailable("MySQL configuration", e)
    }
}
