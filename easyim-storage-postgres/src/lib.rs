//! easyim-storage-postgres: easyim's [`Storage`](easyim_core::Storage) on PostgreSQL, for many
//! easyim nodes sharing one database.
//!
//! [`PgStorage`] talks to PostgreSQL with `tokio-postgres` through a `deadpool-postgres` pool.
//! [`PgStorage::connect`] (or [`PgStorage::from_url`]) opens the pool and brings the schema to
//! the current version: versioned migrations, applied in one transaction under an advisory
//! lock, so that any number of nodes may start at once.
//!
//! **One round trip per call.** Every `Storage` method is one SQL statement (a CTE, or a call of
//! a PL/pgSQL function the migrations install), so it costs one round trip and is one
//! transaction: it commits everything it describes or nothing. Every value travels as a bound
//! parameter. [`store_messages`](easyim_core::MessageStore::store_messages) stores a whole
//! batch in one statement, together with the batches of the node's other connections that
//! wait at the same moment (the commit pipeline, `pipeline.rs`), set-based: a fixed number of
//! SQL statements per transaction whatever its size.
//!
//! **`conv_seq` across nodes.** Each conversation has a row in `convs`; storing a message locks
//! it (`SELECT ... FOR UPDATE`, held until commit), checks idempotency under the lock, and takes
//! `last_seq + 1`. Writers of one conversation, on any node, are so serialized: `conv_seq` is
//! gapless and unique, and a resend racing its original is a `Duplicate`, never an error. A
//! batch locks its conversations in key order first, so two batches never deadlock.
//!
//! **Pending.** One row per message and one cursor per (user, conversation), never a row per
//! recipient: a message is pending for a user while its `conv_seq` is past the user's cursor.
//! The `order` of a pending message is `gseq`, drawn from a sequence while the conversation is
//! locked, so within a conversation it follows commit order exactly. Across conversations two
//! transactions in flight at the same moment may commit in the other order than their `gseq`;
//! a page of `pending` read at that moment may then pass over the message committing late. It
//! stays pending (no cursor moved), and the engine delivers it live: a session registers for
//! live deliveries before it replays `pending`, and holds them until the replay is done.
//!
//! **Errors.** A lost connection, a database error, a pool timeout: every backend failure is
//! [`StorageError::Unavailable`], never a panic. Deadlocks and serialization failures reported
//! by the server are retried a few times first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), easyim_core::StorageError> {
//! use std::sync::Arc;
//! use easyim_core::Storage;
//! use easyim_storage_postgres::PgStorage;
//!
//! let storage = PgStorage::from_url("postgres://easyim:secret@127.0.0.1:5432/easyim").await?;
//! let storage: Arc<dyn Storage> = Arc::new(storage);
//! storage.ping().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Modules (private; the types users need are re-exported here):
//! - `config`: [`PgConfig`] and [`ConfigError`].
//! - `error`: `DbError`, what a call fails with before it becomes a [`StorageError`].
//! - `schema`: the versioned migrations and how they are applied.
//! - `rows`: row mapping into the core's types.
//! - `pipeline`: one transaction of the commit pipeline (`easyim_core::CommitPipeline`), which
//!   gathers message batches into few transactions.
//! - `accounts`, `friends`, `groups`, `messages`, `conversations`: the five storage traits of
//!   `easyim-core` ([`AccountStore`](easyim_core::AccountStore),
//!   [`FriendStore`](easyim_core::FriendStore), [`GroupStore`](easyim_core::GroupStore),
//!   [`MessageStore`](easyim_core::MessageStore),
//!   [`ConversationStore`](easyim_core::ConversationStore)), and the read positions.

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use easyim_core::{CommitPipeline, StorageError};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

mod accounts;
mod config;
mod conversations;
mod devices;
mod error;
mod friends;
mod groups;
mod messages;
mod moderation;
mod outbox;
mod pipeline;
mod rows;
mod schema;

pub use config::{ConfigError, PgConfig};

use error::{DbError, Result};
use pipeline::PgCommit;

/// How many times a call is retried when the server reports a deadlock or a serialization
/// failure (its transaction was rolled back, so a retry is safe).
const RETRIES: usize = 3;
/// How long a call waits for a free connection of the pool, and to open a new one.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// easyim's [`Storage`](easyim_core::Storage) on PostgreSQL; see the [crate docs](crate) for how
/// it works.
///
/// Cheap to share as `Arc<dyn Storage>`: calls run concurrently on the pool's connections.
/// Several `PgStorage`s, in one process or on many nodes, may share one database.
pub struct PgStorage {
    pool: Pool,
    config: PgConfig,
    pipeline: CommitPipeline,
    /// Which webhook events writes put into the outbox (`outbox.rs`).
    events: std::sync::Arc<easyim_core::EventFilter>,
}

impl fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStorage")
            .field("config", &self.config)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .field("commit_pipeline_in_flight", &self.pipeline.in_flight())
            .finish()
    }
}

impl PgStorage {
    /// Opens a pool of up to `config.pool_size` connections and brings the schema to the
    /// current version (creating `config.schema` first if it is set). `Unavailable` if the
    /// database cannot be reached, the configuration is invalid, or the database holds a newer
    /// schema than this build knows.
    pub async fn connect(config: PgConfig) -> Result<PgStorage> {
        let pg = config.tokio_postgres()?;
        let schema = config.checked_schema()?.map(str::to_owned);
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StorageError::unavailable("PostgreSQL pool", e))?;
        let mut client = pool.get().await.map_err(DbError::from)?;
        schema::migrate(&mut client, schema.as_deref()).await?;
        drop(client);
        // An eighth of the pool (2 of the default 16) stores messages at once: fewer, larger
        // transactions cost PostgreSQL less CPU per message; the rest serves everything else.
        let events = std::sync::Arc::new(easyim_core::EventFilter::default());
        let pipeline = CommitPipeline::start(
            "PostgreSQL",
            std::sync::Arc::new(PgCommit { pool: pool.clone() }),
            config.pool_size / 8,
            events.clone(),
        );
        let storage = PgStorage {
            pool,
            config,
            pipeline,
            events,
        };
        tracing::info!(
            host = %storage.config.host,
            port = storage.config.port,
            dbname = %storage.config.dbname,
            schema = ?storage.config.schema,
            "PostgreSQL storage open"
        );
        Ok(storage)
    }

    /// [`PgStorage::connect`] with [`PgConfig::from_url`].
    pub async fn from_url(url: &str) -> Result<PgStorage> {
        PgStorage::connect(PgConfig::from_url(url)?).await
    }

    /// The configuration the storage was opened with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    async fn client(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// Runs one statement and returns its rows, retrying deadlocks and serialization failures.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, DbError> {
        retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(sql).await?;
            Ok(client.query(&stmt, params).await?)
        })
        .await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, DbError> {
        self.query_opt(sql, params).await?.ok_or_else(|| {
            DbError::Storage(StorageError::unavailable_msg(
                "PostgreSQL returned no row where one was expected",
            ))
        })
    }

    /// Runs one statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, DbError> {
        retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(sql).await?;
            Ok(client.execute(&stmt, params).await?)
        })
        .await
    }
}

/// Runs `call` (one transaction) and again, up to [`RETRIES`] more times, while the server
/// reports a deadlock or a serialization failure (the transaction was rolled back, so a retry
/// is safe).
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
                tracing::debug!(error = %e, attempt, "PostgreSQL: retrying");
            }
            other => return other,
        }
    }
}
