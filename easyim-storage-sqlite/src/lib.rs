//! easyim-storage-sqlite: easyim's default [`Storage`](easyim_core::Storage), one SQLite file in
//! WAL mode.
//!
//! Writes go through one writer thread that owns the only read-write connection and commits
//! whatever is queued as one transaction (group commit); reads run on a small pool of
//! read-only connections through `spawn_blocking`. Nothing here runs SQLite on an async worker
//! thread. See [`SqliteStorage`] for what an ack guarantees.
//!
//! Modules (private; the types users need are re-exported here):
//! - `options`: [`SqliteOptions`] and [`Synchronous`], how the database is set up.
//! - `error`: `DbError`, what a job or a read fails with before it becomes a
//!   [`StorageError`](easyim_core::StorageError).
//! - `schema`: the migrations and how connections are opened (WAL and the other pragmas).
//! - `writer`: the writer thread, its jobs and the group commit.
//! - `checkpointer`: the thread that copies the WAL back into the database file.
//! - `readers`: the pool of read-only connections.
//! - `cache`: what the writer remembers of the database, so that a message costs one INSERT.
//! - `rows`: row mapping and the small lookups several stores share.
//! - `accounts`, `friends`, `groups`, `messages`, `conversations`: the five storage traits of
//!   `easyim-core` ([`AccountStore`](easyim_core::AccountStore),
//!   [`FriendStore`](easyim_core::FriendStore), [`GroupStore`](easyim_core::GroupStore),
//!   [`MessageStore`](easyim_core::MessageStore),
//!   [`ConversationStore`](easyim_core::ConversationStore)), and the read positions.
//!
//! ```no_run
//! # fn demo() -> Result<(), easyim_core::StorageError> {
//! use std::sync::Arc;
//! use easyim_core::Storage;
//! use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
//!
//! let mut options = SqliteOptions::default();
//! options.synchronous = Synchronous::Full;
//! let storage = SqliteStorage::open("easyim.db", options)?;
//! let storage: Arc<dyn Storage> = Arc::new(storage);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

mod accounts;
mod cache;
mod checkpointer;
mod conversations;
mod devices;
mod error;
mod friends;
mod groups;
mod messages;
mod moderation;
mod options;
mod outbox;
mod readers;
mod rows;
mod schema;
mod writer;

pub use options::{SqliteOptions, Synchronous};

use cache::Cache;
use checkpointer::Checkpointer;
use error::{unavailable, DbError, Result};
use readers::Readers;
use rows::to_i64;
use schema::open_writer;
use writer::{Stats, Writer};

/// The default [`Storage`](easyim_core::Storage): one SQLite file in WAL mode.
///
/// **What an ack guarantees.** Every call that writes returns only after the transaction that
/// holds its effects has committed. With [`Synchronous::Normal`] (WAL, `synchronous=NORMAL`) a
/// committed transaction survives a crash of the process (SIGKILL included), but the last
/// commits may be lost on power loss or an OS crash. With [`Synchronous::Full`] it survives
/// power loss too, at the cost of an fsync per commit, that is per group commit batch.
///
/// **How it writes.** One writer thread owns the only read-write connection. It blocks for a
/// job, takes whatever else is queued (up to 1024 jobs), and runs them in one `BEGIN IMMEDIATE`
/// transaction, each inside its own savepoint so that one job's failure undoes only that job
/// (storing messages needs none: each message is a single INSERT); callers are answered only
/// after the `COMMIT` succeeded. `store_messages` is one job however many messages it carries.
/// The writer thread caches what storing a message checks (conversation ids and last
/// `conv_seq`, existing users, group members), so that a message costs about one INSERT. If
/// the commit fails, every job of the batch fails with
/// [`StorageError::Unavailable`](easyim_core::StorageError::Unavailable) and nothing of it is
/// kept. The thread survives every error: once the cause (a full disk, a lock held elsewhere)
/// goes away, later calls succeed again.
///
/// **How it reads.** Reads run on a pool of read-only connections on tokio's blocking threads.
///
/// **Schema.** One row per message (`messages`, numbered by `gseq` in commit order and by
/// `conv_seq` within its conversation) and one cursor per user and conversation (`cursors`,
/// how far the user has receipted); both refer to a conversation by its integer id in
/// `convs`. A message is pending for a user while it lies past the user's cursor, so a group
/// message costs the same whatever the size of the group.
pub struct SqliteStorage {
    path: PathBuf,
    options: SqliteOptions,
    writer: Writer,
    readers: Arc<Readers>,
    stats: Arc<Stats>,
    /// Which webhook events writes put into the outbox (`outbox`).
    events: easyim_core::EventFilter,
    _checkpointer: Checkpointer,
}

impl fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("commits", &self.commit_count())
            .field("committed_jobs", &self.job_count())
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating it if missing) the database at `path`, sets WAL, `synchronous`,
    /// `busy_timeout` and `foreign_keys`, brings the schema to the current version and starts
    /// the writer thread.
    pub fn open(path: impl AsRef<Path>, opts: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = open_writer(&path, opts.synchronous).map_err(|e| match e {
            DbError::Sql(e) => unavailable(&format!("cannot open {}", path.display()), e),
            DbError::Storage(e) => e,
        })?;
        let readers = Arc::new(Readers::open(path.clone(), opts.read_connections.max(1))?);
        let stats = Arc::new(Stats::default());
        let writer = Writer::start(conn, stats.clone())?;
        let checkpointer = Checkpointer::start(&path, opts.synchronous)?;
        tracing::info!(path = %path.display(), synchronous = %opts.synchronous, "SQLite storage open");
        Ok(SqliteStorage {
            path,
            options: opts,
            writer,
            readers,
            stats,
            events: easyim_core::EventFilter::default(),
            _checkpointer: checkpointer,
        })
    }

    /// How many transactions the writer has committed.
    pub fn commit_count(&self) -> u64 {
        self.stats.commits()
    }

    /// How many write calls those commits carried (each commit carries one or more).
    pub fn job_count(&self) -> u64 {
        self.stats.jobs()
    }

    /// Caps the database file at `pages` pages (`PRAGMA max_page_count` on the writer
    /// connection; SQLite never sets it below the current size) and returns the cap in force.
    /// Writes that need more room fail with
    /// [`StorageError::Unavailable`](easyim_core::StorageError::Unavailable) exactly as on a
    /// full disk, which is what tests use it for; a larger value lifts the cap.
    pub async fn set_max_page_count(&self, pages: u64) -> Result<u64> {
        let pages = to_i64(pages);
        self.write(move |c| {
            let n: i64 = c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })?;
            Ok(n as u64)
        })
        .await
    }

    /// Runs `f` on the writer thread inside its own savepoint (a failure undoes only `f`).
    async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, DbError> + Send + 'static,
    {
        self.write_with(true, move |c, _| f(c)).await
    }

    /// Runs `f` on the writer thread with the writer's [`Cache`]. With `savepoint`, inside its
    /// own savepoint; without, a failure keeps whatever `f` wrote before it, so only a job for
    /// which any prefix of its writes is a consistent state may go without (storing messages:
    /// each message is one INSERT, see `messages::store_one`).
    async fn write_with<R, F>(&self, savepoint: bool, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Cache) -> Result<R, DbError> + Send + 'static,
    {
        self.writer.call(savepoint, f).await
    }

    /// Runs `f` in one read transaction on a read-only connection, on a blocking thread.
    async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, DbError> + Send + 'static,
    {
        self.readers.read(f).await
    }
}
