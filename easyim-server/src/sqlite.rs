//! [`SqliteStorage`]: the server's default [`Storage`], one SQLite file in WAL mode.
//!
//! Writes go through one writer thread that owns the only read-write connection and commits
//! whatever is queued as one transaction (group commit); reads run on a small pool of
//! read-only connections through `spawn_blocking`. Nothing here runs SQLite on an async worker
//! thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use easyim_core::{
    AccountStore, Conflict, Conversation, Entity, FriendRequest, FriendStore, Group, GroupId,
    GroupStore, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, Profile,
    Receipt, RequestStatus, StorageError, StoreOutcome, StoredMessage, User, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use tokio::sync::{mpsc, oneshot, Semaphore};

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The most jobs one group commit takes: bounds the latency a batch adds to its first caller.
const MAX_BATCH: usize = 1024;
/// Jobs waiting for the writer; callers wait (asynchronously) when it is full.
const QUEUE: usize = 4 * MAX_BATCH;
/// How long a connection waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most conversations, users and group members the writer's [`Cache`] remembers (each
/// part is emptied when it reaches its bound, and refills from the database as needed).
const CACHE_CONVS: usize = 1 << 18;
const CACHE_USERS: usize = 1 << 20;
const CACHE_MEMBERS: usize = 1 << 20;

/// How hard SQLite works to keep a commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// WAL with `synchronous=NORMAL`: a commit survives a crash of the process, but the last
    /// commits may be lost on power loss or an OS crash. No fsync per commit.
    #[default]
    Normal,
    /// `synchronous=FULL`: a commit survives power loss too, at the cost of one fsync per
    /// group commit batch.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl fmt::Display for Synchronous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        })
    }
}

impl FromStr for Synchronous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            _ => Err(format!(
                "invalid SQLite synchronous mode {s:?}: expected \"normal\" or \"full\""
            )),
        }
    }
}

/// How [`SqliteStorage::open`] sets up the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What a commit (and so an ack) survives; see [`Synchronous`].
    pub synchronous: Synchronous,
    /// How many reads may run at once, each on its own read-only connection (at least 1).
    pub read_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            read_connections: 4,
        }
    }
}

/// The default [`Storage`]: one SQLite file in WAL mode.
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
/// `conv_seq`, existing users, group members), so that a message costs about one INSERT. If the commit fails, every job of
/// the batch fails with [`StorageError::Unavailable`] and nothing of it is kept. The thread
/// survives every error: once the cause (a full disk, a lock held elsewhere) goes away, later
/// calls succeed again.
///
/// **How it reads.** Reads run on a pool of read-only connections on tokio's blocking threads.
///
/// **Schema.** One row per message (`messages`, numbered by `gseq` in commit order and by
/// `conv_seq` within its conversation) and one cursor per user and conversation (`cursors`,
/// how far the user has receipted); both refer to a conversation by its integer id in `convs`. A message is pending for a user while it lies past the
/// user's cursor, so a group message costs the same whatever the size of the group.
pub struct SqliteStorage {
    path: PathBuf,
    options: SqliteOptions,
    writer: Writer,
    readers: Arc<Readers>,
    stats: Arc<Stats>,
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

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
struct Stats {
    commits: AtomicU64,
    jobs: AtomicU64,
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
            _checkpointer: checkpointer,
        })
    }

    /// How many transactions the writer has committed.
    pub fn commit_count(&self) -> u64 {
        self.stats.commits.load(Ordering::Relaxed)
    }

    /// How many write calls those commits carried (each commit carries one or more).
    pub fn job_count(&self) -> u64 {
        self.stats.jobs.load(Ordering::Relaxed)
    }

    /// Caps the database file at `pages` pages (`PRAGMA max_page_count` on the writer
    /// connection; SQLite never sets it below the current size) and returns the cap in force.
    /// Writes that need more room fail with [`StorageError::Unavailable`] exactly as on a full
    /// disk, which is what tests use it for; a larger value lifts the cap.
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
    /// each message is one INSERT, see [`store_one`]).
    async fn write_with<R, F>(&self, savepoint: bool, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Cache) -> Result<R, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            f: Some(f),
            savepoint,
            result: None,
            reply,
        });
        self.writer
            .tx
            .send(job)
            .await
            .map_err(|_| StorageError::unavailable_msg("the SQLite writer has stopped"))?;
        answer
            .await
            .map_err(|_| StorageError::unavailable_msg("the SQLite writer dropped the call"))?
    }

    async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, DbError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let permit = readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::unavailable_msg("the SQLite read pool is closed"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            readers.run(f)
        })
        .await
        .map_err(|e| StorageError::unavailable("SQLite read task", e))?
    }
}

// ---- errors ----------------------------------------------------------------------------------

/// What a job or a read fails with: an SQL error (becomes `Unavailable`) or an answer of the
/// `Storage` contract (`NotFound`, `Conflict`).
#[derive(Debug)]
enum DbError {
    Sql(rusqlite::Error),
    Storage(StorageError),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

impl From<StorageError> for DbError {
    fn from(e: StorageError) -> Self {
        DbError::Storage(e)
    }
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sql(e) => unavailable("SQLite", e),
            DbError::Storage(e) => e,
        }
    }
}

fn unavailable(what: &str, e: rusqlite::Error) -> StorageError {
    tracing::warn!(error = %e, what, "SQLite failure");
    StorageError::unavailable(what.to_owned(), e)
}

// ---- connections and schema ------------------------------------------------------------------

/// The schema, one entry per version (`PRAGMA user_version`); a later version appends an entry.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, friends, groups, messages with a cursor per user and conversation.
    "
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        account       TEXT    NOT NULL UNIQUE,
        nickname      TEXT    NOT NULL,
        avatar        TEXT    NOT NULL,
        password_hash TEXT    NOT NULL,
        secret        TEXT    NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    -- rowid `seq` keeps arrival order, so 'newest first' does not depend on the ids.
    CREATE TABLE friend_requests (
        seq       INTEGER PRIMARY KEY,
        id        INTEGER NOT NULL UNIQUE,
        from_user INTEGER NOT NULL,
        to_user   INTEGER NOT NULL,
        msg       TEXT    NOT NULL,
        status    INTEGER NOT NULL
    );
    CREATE INDEX friend_requests_to ON friend_requests (to_user, seq);
    CREATE INDEX friend_requests_pair ON friend_requests (from_user, to_user, status);
    -- Both directions of each friendship.
    CREATE TABLE friends (
        user_id   INTEGER NOT NULL,
        friend_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, friend_id)
    ) WITHOUT ROWID;
    CREATE TABLE chat_groups (
        id    INTEGER PRIMARY KEY,
        name  TEXT    NOT NULL,
        owner INTEGER NOT NULL
    );
    CREATE TABLE members (
        group_id INTEGER NOT NULL REFERENCES chat_groups (id),
        user_id  INTEGER NOT NULL REFERENCES users (id),
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members (user_id, group_id);
    -- The last conv_seq handed out in each conversation ('d:low:high' or 'g:id').
    CREATE TABLE convs (
        conv     TEXT    PRIMARY KEY,
        last_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- gseq: commit order over all conversations (messages are never deleted, so the rowid only
    -- grows); it is the `order` of pending messages.
    CREATE TABLE messages (
        gseq      INTEGER PRIMARY KEY,
        conv      TEXT    NOT NULL,
        conv_seq  INTEGER NOT NULL,
        msg_id    TEXT    NOT NULL,
        from_user INTEGER NOT NULL,
        to_id     INTEGER NOT NULL,
        chat_type INTEGER NOT NULL,
        msg_type  INTEGER NOT NULL,
        content   TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        UNIQUE (conv, conv_seq),
        UNIQUE (conv, msg_id)
    );
    -- A message of `conv` is pending for `user_id` while its conv_seq > arrived_seq.
    CREATE TABLE cursors (
        user_id     INTEGER NOT NULL,
        conv        TEXT    NOT NULL,
        arrived_seq INTEGER NOT NULL,
        read_seq    INTEGER NOT NULL,
        PRIMARY KEY (user_id, conv)
    ) WITHOUT ROWID;
    ",
    // 2: conversations get an integer id, which messages and cursors refer to instead of the
    // text key (smaller rows and indexes, cheaper comparisons). `convs` no longer counts:
    // messages are never deleted, so a conversation's last conv_seq is its largest stored one
    // (one step down the (conv, conv_seq) index). The old tables are copied and dropped.
    "
    CREATE TABLE convs_v2 (
        id  INTEGER PRIMARY KEY,
        key TEXT    NOT NULL UNIQUE
    );
    INSERT INTO convs_v2 (key)
        SELECT conv FROM convs UNION SELECT conv FROM cursors UNION SELECT conv FROM messages;
    CREATE TABLE messages_v2 (
        gseq      INTEGER PRIMARY KEY,
        conv      INTEGER NOT NULL,
        conv_seq  INTEGER NOT NULL,
        msg_id    TEXT    NOT NULL,
        from_user INTEGER NOT NULL,
        to_id     INTEGER NOT NULL,
        chat_type INTEGER NOT NULL,
        msg_type  INTEGER NOT NULL,
        content   TEXT    NOT NULL,
        ts        INTEGER NOT NULL
    );
    INSERT INTO messages_v2 (gseq, conv, conv_seq, msg_id, from_user, to_id, chat_type,
                             msg_type, content, ts)
        SELECT m.gseq, c.id, m.conv_seq, m.msg_id, m.from_user, m.to_id, m.chat_type,
               m.msg_type, m.content, m.ts
        FROM messages m JOIN convs_v2 c ON c.key = m.conv
        ORDER BY m.gseq;
    CREATE TABLE cursors_v2 (
        user_id     INTEGER NOT NULL,
        conv        INTEGER NOT NULL,
        arrived_seq INTEGER NOT NULL,
        read_seq    INTEGER NOT NULL,
        PRIMARY KEY (user_id, conv)
    ) WITHOUT ROWID;
    INSERT INTO cursors_v2 (user_id, conv, arrived_seq, read_seq)
        SELECT k.user_id, c.id, k.arrived_seq, k.read_seq
        FROM cursors k JOIN convs_v2 c ON c.key = k.conv;
    DROP TABLE messages;
    DROP TABLE cursors;
    DROP TABLE convs;
    ALTER TABLE convs_v2 RENAME TO convs;
    ALTER TABLE messages_v2 RENAME TO messages;
    ALTER TABLE cursors_v2 RENAME TO cursors;
    CREATE UNIQUE INDEX messages_conv_seq ON messages (conv, conv_seq);
    CREATE UNIQUE INDEX messages_conv_msg_id ON messages (conv, msg_id);
    ",
];

fn open_writer(path: &Path, synchronous: Synchronous) -> Result<Connection, DbError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Storage(StorageError::unavailable_msg(format!(
            "cannot use WAL (journal_mode is {mode})"
        ))));
    }
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The writer's working set (the tails of the message indexes of every busy conversation)
    // stays in its page cache: 64 MiB instead of the default 2 MiB.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints (which fsync) run on a thread of their own (see `Checkpointer`), so that no
    // commit waits for one; the writer checkpoints itself only if that thread falls far behind
    // (64 MiB of WAL).
    conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = MIGRATIONS.len() as i64;
    if version > current {
        return Err(DbError::Storage(StorageError::unavailable_msg(format!(
            "the database has schema version {version}, newer than this server's {current}"
        ))));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "SQLite schema migrated");
    }
    Ok(())
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The read-only connections; `permits` has one permit per connection, so a read waits
/// (asynchronously) for a free connection before it takes a blocking thread.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    fn open(path: PathBuf, n: usize) -> Result<Self> {
        let idle = (0..n)
            .map(|_| open_reader(&path))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| unavailable("cannot open a SQLite read connection", e))?;
        Ok(Readers {
            path,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(n)),
        })
    }

    /// Runs `f` in one read transaction (one consistent snapshot) on an idle connection.
    fn run<R>(&self, f: impl FnOnce(&Connection) -> Result<R, DbError>) -> Result<R> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        // A connection is missing only if a read panicked while holding it: replace it.
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path)
                .map_err(|e| unavailable("cannot open a SQLite read connection", e))?,
        };
        let result = (|| -> Result<R, DbError> {
            let tx = conn.unchecked_transaction()?;
            let r = f(&tx)?;
            tx.finish()?;
            Ok(r)
        })();
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result.map_err(StorageError::from)
    }
}

// ---- the writer ------------------------------------------------------------------------------

/// A write call waiting for the writer thread.
trait WriteJob: Send {
    /// Whether the job runs inside its own savepoint.
    fn savepoint(&self) -> bool;
    /// Runs the call's SQL; true if it succeeded (its savepoint is kept).
    fn run(&mut self, conn: &Connection, cache: &mut Cache) -> bool;
    /// Answers the caller: its result if the batch committed, else the batch's error.
    fn finish(self: Box<Self>, batch: Result<()>);
    /// Why the job failed, if it ran and failed.
    fn failure(&self) -> Option<String>;
}

struct Job<F, R> {
    f: Option<F>,
    savepoint: bool,
    result: Option<Result<R>>,
    reply: oneshot::Sender<Result<R>>,
}

impl<F, R> WriteJob for Job<F, R>
where
    F: FnOnce(&Connection, &mut Cache) -> Result<R, DbError> + Send,
    R: Send,
{
    fn savepoint(&self) -> bool {
        self.savepoint
    }

    fn run(&mut self, conn: &Connection, cache: &mut Cache) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let result = f(conn, cache).map_err(StorageError::from);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn failure(&self) -> Option<String> {
        match &self.result {
            Some(Err(StorageError::Unavailable(e))) => Some(e.to_string()),
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }

    fn finish(self: Box<Self>, batch: Result<()>) {
        let answer = match batch {
            Ok(()) => self.result.unwrap_or_else(|| {
                Err(StorageError::unavailable_msg(
                    "the SQLite write failed unexpectedly",
                ))
            }),
            Err(e) => Err(e),
        };
        // The caller may have gone away (its future dropped): nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// Copies the WAL back into the database file in the background (`PRAGMA
/// wal_checkpoint(PASSIVE)` every [`CHECKPOINT_EVERY`] on a connection of its own). A passive
/// checkpoint never blocks the writer or the readers; doing it here keeps its fsyncs off the
/// writer's path, where they would stall every message waiting for the next commit.
struct Checkpointer {
    /// Dropping it wakes the thread and ends it.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

impl Checkpointer {
    fn start(path: &Path, synchronous: Synchronous) -> Result<Self> {
        let conn = Connection::open(path)
            .and_then(|c| {
                c.busy_timeout(BUSY_TIMEOUT)?;
                c.pragma_update(None, "synchronous", synchronous.pragma())?;
                Ok(c)
            })
            .map_err(|e| unavailable("cannot open the SQLite checkpoint connection", e))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "background checkpoint failed; will retry");
                    }
                }
            })
            .map_err(|e| StorageError::unavailable("cannot start the SQLite checkpointer", e))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    tx: mpsc::Sender<Box<dyn WriteJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(conn: Connection, stats: Arc<Stats>) -> Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, &stats))
            .map_err(|e| StorageError::unavailable("cannot start the SQLite writer", e))?;
        Ok(Writer {
            tx,
            thread: Some(thread),
        })
    }
}

impl Drop for Writer {
    /// Closes the queue, lets the writer finish what is queued and close its connection.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Box<dyn WriteJob>>, stats: &Stats) {
    // Jobs taken from the queue but not run yet (left over when a batch was cut short).
    let mut queued: VecDeque<Box<dyn WriteJob>> = VecDeque::new();
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    let mut cache = Cache::default();
    loop {
        if queued.is_empty() {
            match rx.blocking_recv() {
                Some(job) => queued.push_back(job),
                None => break,
            }
        }
        while queued.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => queued.push_back(job),
                Err(_) => break,
            }
        }
        let n = queued.len().min(MAX_BATCH);
        batch.extend(queued.drain(..n));
        let cut = run_batch(&conn, &mut cache, &mut batch, stats);
        // Jobs after a failure that ended the transaction go first into the next batch.
        for job in cut.into_iter().rev() {
            queued.push_front(job);
        }
    }
    tracing::debug!("SQLite writer stopped");
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs `batch` in one transaction and answers every job it ran; returns the jobs it did not
/// get to (only when a failure ended the transaction early), to be run next.
///
/// Whatever undoes writes (a job's failure, a rolled back transaction) also empties `cache`,
/// which then refills from the database; so does a commit by another connection.
fn run_batch(
    conn: &Connection,
    cache: &mut Cache,
    batch: &mut Vec<Box<dyn WriteJob>>,
    stats: &Stats,
) -> Vec<Box<dyn WriteJob>> {
    let fail = |jobs: &mut Vec<Box<dyn WriteJob>>, e: StorageError| {
        for job in jobs.drain(..) {
            job.finish(Err(e.clone()));
        }
    };
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        fail(batch, unavailable("cannot begin a SQLite transaction", e));
        return Vec::new();
    }
    if let Err(e) = cache.check_data_version(conn) {
        let _ = conn.execute_batch("ROLLBACK");
        fail(batch, unavailable("SQLite transaction failed", e));
        return Vec::new();
    }
    for i in 0..batch.len() {
        let guarded = batch[i].savepoint();
        let step = (|| {
            if guarded {
                exec(conn, "SAVEPOINT job")?;
            }
            let ok =
                catch_unwind(AssertUnwindSafe(|| batch[i].run(conn, cache))).unwrap_or_else(|_| {
                    tracing::error!("a SQLite write job panicked");
                    false
                });
            if !ok {
                cache.clear();
            }
            if guarded {
                if !ok && !conn.is_autocommit() {
                    exec(conn, "ROLLBACK TO job")?;
                }
                if !conn.is_autocommit() {
                    exec(conn, "RELEASE job")?;
                }
            }
            Ok::<_, rusqlite::Error>(())
        })();
        // Some errors (I/O, a full disk) make SQLite roll back the whole transaction: the
        // jobs run so far are lost with it, and the rest go to a fresh transaction.
        let lost = match step {
            Err(e) => Some(unavailable("SQLite transaction failed", e)),
            Ok(()) if conn.is_autocommit() => Some(StorageError::unavailable_msg(format!(
                "SQLite rolled back the transaction after {}",
                batch[i].failure().as_deref().unwrap_or("an error")
            ))),
            Ok(()) => None,
        };
        if let Some(e) = lost {
            cache.clear();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let rest = batch.split_off(i + 1);
            fail(batch, e);
            return rest;
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            for job in batch.drain(..) {
                job.finish(Ok(()));
            }
        }
        Err(e) => {
            cache.clear();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            fail(batch, unavailable("cannot commit a SQLite transaction", e));
        }
    }
    Vec::new()
}

// ---- the writer's cache ----------------------------------------------------------------------

/// A conversation as the writer knows it: its row in `convs` and its last `conv_seq`.
#[derive(Debug, Clone, Copy)]
struct ConvState {
    id: i64,
    last_seq: i64,
}

/// What the writer thread remembers of the database, so that storing a message needs no
/// lookup but the idempotency check (which its INSERT does).
///
/// Coherent because the writer's connection is the only one of this process that writes: the
/// writer's own jobs keep it up to date (within the open transaction, which is what they must
/// see), anything that undoes writes empties it ([`run_batch`]), and so does a commit by any
/// other connection (another process on the same file), seen through `PRAGMA data_version` at
/// the start of each transaction. It only holds facts that stay true until the writer changes
/// them: users are never deleted, messages are never deleted (so a conversation's last
/// `conv_seq` is the largest one stored), and membership changes drop the group's entry.
#[derive(Debug, Default)]
struct Cache {
    /// Conversations that have a row in `convs` (for a 1:1 one, with both users' cursors).
    convs: HashMap<Conversation, ConvState>,
    /// Users known to exist.
    users: HashSet<i64>,
    /// Groups known to exist, with their members, sorted.
    groups: HashMap<i64, Vec<i64>>,
    /// How many members `groups` holds in all.
    members: usize,
    /// `PRAGMA data_version` when last seen.
    data_version: Option<i64>,
}

impl Cache {
    fn clear(&mut self) {
        self.convs.clear();
        self.users.clear();
        self.groups.clear();
        self.members = 0;
    }

    /// Empties the cache if another connection committed since the writer last looked.
    fn check_data_version(&mut self, c: &Connection) -> rusqlite::Result<()> {
        let v: i64 = c
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.data_version != Some(v) {
            if self.data_version.is_some() {
                tracing::debug!("another connection wrote to the database: cache emptied");
            }
            self.clear();
            self.data_version = Some(v);
        }
        Ok(())
    }

    fn user_exists(&mut self, c: &Connection, user: i64) -> rusqlite::Result<bool> {
        if self.users.contains(&user) {
            return Ok(true);
        }
        let found = user_exists(c, user)?;
        if found {
            if self.users.len() >= CACHE_USERS {
                self.users.clear();
            }
            self.users.insert(user);
        }
        Ok(found)
    }

    /// The members of `group`, sorted, or `None` if there is no such group.
    fn group(&mut self, c: &Connection, group: i64) -> rusqlite::Result<Option<&[i64]>> {
        if !self.groups.contains_key(&group) {
            if !group_exists(c, group)? {
                return Ok(None);
            }
            let members = c
                .prepare_cached("SELECT user_id FROM members WHERE group_id = ?1 ORDER BY user_id")?
                .query_map([group], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if self.members + members.len() > CACHE_MEMBERS {
                self.groups.clear();
                self.members = 0;
            }
            self.members += members.len();
            self.groups.insert(group, members);
        }
        Ok(self.groups.get(&group).map(Vec::as_slice))
    }

    /// Forgets a group whose members change.
    fn forget_group(&mut self, group: i64) {
        if let Some(members) = self.groups.remove(&group) {
            self.members -= members.len();
        }
    }

    /// The conversation's state, if it has a row in `convs`.
    fn conv(&mut self, c: &Connection, conv: Conversation) -> rusqlite::Result<Option<ConvState>> {
        if let Some(&state) = self.convs.get(&conv) {
            return Ok(Some(state));
        }
        let Some(conv_id) = conv_id(c, &conv.key())? else {
            return Ok(None);
        };
        let last_seq: i64 = c
            .prepare_cached("SELECT coalesce(max(conv_seq), 0) FROM messages WHERE conv = ?1")?
            .query_row([conv_id], |r| r.get(0))?;
        let state = ConvState {
            id: conv_id,
            last_seq,
        };
        self.remember(conv, state);
        Ok(Some(state))
    }

    /// The conversation's state, giving it a row in `convs` (and, for a 1:1 conversation,
    /// both users a cursor at 0) if it has none yet.
    fn conv_or_create(
        &mut self,
        c: &Connection,
        conv: Conversation,
    ) -> rusqlite::Result<ConvState> {
        if let Some(state) = self.conv(c, conv)? {
            return Ok(state);
        }
        // Rare (once per conversation), and the only write of a message besides its own row:
        // its own savepoint keeps it whole even in a job that runs without one.
        exec(c, "SAVEPOINT conv")?;
        let created = (|| {
            let conv_id: i64 = c
                .prepare_cached("INSERT INTO convs (key) VALUES (?1) RETURNING id")?
                .query_row([conv.key()], |r| r.get(0))?;
            if let Conversation::Direct { low, high } = conv {
                let mut cursor = c.prepare_cached(
                    "INSERT OR IGNORE INTO cursors (user_id, conv, arrived_seq, read_seq)
                     VALUES (?1, ?2, 0, 0)",
                )?;
                cursor.execute([id(low), conv_id])?;
                cursor.execute([id(high), conv_id])?;
            }
            Ok(conv_id)
        })();
        let conv_id = match created {
            Ok(conv_id) => {
                exec(c, "RELEASE conv")?;
                conv_id
            }
            Err(e) => {
                if !c.is_autocommit() {
                    let _ = exec(c, "ROLLBACK TO conv");
                    let _ = exec(c, "RELEASE conv");
                }
                return Err(e);
            }
        };
        let state = ConvState {
            id: conv_id,
            last_seq: 0,
        };
        self.remember(conv, state);
        Ok(state)
    }

    fn remember(&mut self, conv: Conversation, state: ConvState) {
        if self.convs.len() >= CACHE_CONVS {
            self.convs.clear();
        }
        self.convs.insert(conv, state);
    }
}

// ---- row helpers -----------------------------------------------------------------------------

/// Ids and counters are below 2^63 (snowflakes, sequence numbers): stored as SQLite integers.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn limit_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn id(n: u64) -> i64 {
    n as i64
}

const USER_COLUMNS: &str = "id, account, nickname, avatar, password_hash, secret";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get::<_, i64>(0)? as u64,
        account: r.get(1)?,
        nickname: r.get(2)?,
        avatar: r.get(3)?,
        password_hash: r.get(4)?,
        secret: r.get(5)?,
    })
}

fn profile_row(r: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: r.get::<_, i64>(0)? as u64,
        account: r.get(1)?,
        nickname: r.get(2)?,
        avatar: r.get(3)?,
    })
}

fn request_row(r: &Row<'_>) -> rusqlite::Result<FriendRequest> {
    Ok(FriendRequest {
        id: r.get::<_, i64>(0)? as u64,
        from: r.get::<_, i64>(1)? as u64,
        to: r.get::<_, i64>(2)? as u64,
        msg: r.get(3)?,
        status: RequestStatus::from_i64(r.get(4)?),
    })
}

fn group_row(r: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: r.get::<_, i64>(0)? as u64,
        name: r.get(1)?,
        owner: r.get::<_, i64>(2)? as u64,
        member_count: r.get::<_, i64>(3)? as u64,
    })
}

/// The columns [`message_row`] reads, from `messages`, starting at index 0.
const MESSAGE_COLUMNS: &str =
    "msg_id, conv_seq, from_user, to_id, chat_type, msg_type, content, ts";

fn message_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let chat_type: i32 = r.get(4)?;
    Ok(StoredMessage {
        id: r.get(0)?,
        conv_seq: r.get::<_, i64>(1)? as u64,
        from: r.get::<_, i64>(2)? as u64,
        to: r.get::<_, i64>(3)? as u64,
        chat_type: ChatType::try_from(chat_type).unwrap_or(ChatType::Single),
        msg_type: r.get(5)?,
        content: r.get(6)?,
        timestamp: r.get(7)?,
    })
}

fn user_exists(c: &Connection, user: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
        .query_row([user], |r| r.get(0))
}

fn group_exists(c: &Connection, group: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM chat_groups WHERE id = ?1)")?
        .query_row([group], |r| r.get(0))
}

fn is_member(c: &Connection, group: i64, user: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM members WHERE group_id = ?1 AND user_id = ?2)")?
        .query_row([group, user], |r| r.get(0))
}

fn are_friends(c: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?2)")?
        .query_row([a, b], |r| r.get(0))
}

fn group_by_id(c: &Connection, group: i64) -> rusqlite::Result<Option<Group>> {
    c.prepare_cached(
        "SELECT id, name, owner, (SELECT COUNT(*) FROM members WHERE group_id = g.id)
         FROM chat_groups g WHERE id = ?1",
    )?
    .query_row([group], group_row)
    .optional()
}

/// Makes `users` members of `group` (current members stay as they are), each new member's
/// cursor starting at the group's last message so that only later messages are pending.
fn join_group(
    c: &Connection,
    cache: &mut Cache,
    group: i64,
    users: &[i64],
) -> rusqlite::Result<()> {
    cache.forget_group(group);
    let conv = cache.conv_or_create(c, Conversation::Group(group as u64))?;
    let mut add =
        c.prepare_cached("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?1, ?2)")?;
    let mut cursor = c.prepare_cached(
        "INSERT OR IGNORE INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?1, ?2, ?3, ?3)",
    )?;
    for &user in users {
        if add.execute([group, user])? > 0 {
            cursor.execute([user, conv.id, conv.last_seq])?;
        }
    }
    Ok(())
}

/// The id of the conversation with this key in `convs`, if it has one.
fn conv_id(c: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM convs WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

fn find_message(c: &Connection, conv: i64, id: &str) -> rusqlite::Result<Option<StoredMessage>> {
    c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND msg_id = ?2"
    ))?
    .query_row(params![conv, id], message_row)
    .optional()
}

/// Stores one message as [`Storage::store_message`] says, on the writer thread.
///
/// Its only write is the one INSERT of its row (besides, once per conversation, the
/// conversation's own row and cursors, which [`Cache::conv_or_create`] writes whole), so a
/// failure at any point leaves either the message stored or nothing of it: the caller needs
/// no savepoint.
fn store_one(c: &Connection, cache: &mut Cache, msg: NewMessage) -> Result<StoreOutcome, DbError> {
    let (from, to) = (id(msg.from), id(msg.to));
    let recipients = match msg.chat_type {
        ChatType::Single => {
            if !cache.user_exists(c, to)? {
                return Ok(StoreOutcome::NoUser);
            }
            vec![msg.to]
        }
        ChatType::Group => {
            let Some(members) = cache.group(c, to)? else {
                return Ok(StoreOutcome::NoGroup);
            };
            if members.binary_search(&from).is_err() {
                return Ok(StoreOutcome::NotMember);
            }
            members
                .iter()
                .filter(|&&u| u != from)
                .map(|&u| u as u64)
                .collect()
        }
    };
    let conv = msg.conversation();
    let state = cache.conv_or_create(c, conv)?;
    let conv_seq = state.last_seq + 1;
    // The UNIQUE (conv, msg_id) index is the idempotency check: a known id inserts nothing.
    let inserted = c
        .prepare_cached(
            "INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type,
                                   msg_type, content, ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (conv, msg_id) DO NOTHING",
        )?
        .execute(params![
            state.id,
            conv_seq,
            msg.id,
            from,
            to,
            msg.chat_type as i32,
            msg.msg_type,
            msg.content,
            msg.timestamp
        ])?;
    if inserted == 0 {
        let stored =
            find_message(c, state.id, &msg.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        return Ok(if stored.from == msg.from {
            StoreOutcome::Duplicate(stored)
        } else {
            StoreOutcome::IdTaken
        });
    }
    cache.remember(
        conv,
        ConvState {
            id: state.id,
            last_seq: conv_seq,
        },
    );
    Ok(StoreOutcome::Stored {
        message: StoredMessage {
            id: msg.id,
            conv_seq: conv_seq as u64,
            from: msg.from,
            to: msg.to,
            chat_type: msg.chat_type,
            msg_type: msg.msg_type,
            content: msg.content,
            timestamp: msg.timestamp,
        },
        recipients,
    })
}

/// The messages pending for a user, in `gseq` order. `CROSS JOIN` keeps the cursors as the
/// outer loop: each of the user's cursors is one range search on `(conv, conv_seq)`, instead of
/// a scan of all messages by `gseq`.
const PENDING_SQL: &str = "
    SELECT m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
           m.content, m.ts
    FROM cursors c CROSS JOIN messages m
      ON m.conv = c.conv AND m.conv_seq > c.arrived_seq
    WHERE c.user_id = ?1 AND m.gseq > ?2 AND m.from_user <> ?1
    ORDER BY m.gseq
    LIMIT ?3";

// ---- the Storage implementation --------------------------------------------------------------

#[async_trait]
impl AccountStore for SqliteStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        self.write(move |c| {
            let taken: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE account = ?1)")?
                .query_row([&user.account], |r| r.get(0))?;
            if taken {
                return Err(StorageError::Conflict(Conflict::Account).into());
            }
            if user_exists(c, id(user.id))? {
                return Err(StorageError::Conflict(Conflict::User).into());
            }
            c.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                id(user.id),
                user.account,
                user.nickname,
                user.avatar,
                user.password_hash,
                user.secret
            ])?;
            Ok(user)
        })
        .await
    }

    async fn user(&self, user: UserId) -> Result<Option<User>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                    .query_row([id(user)], user_row)
                    .optional()?,
            )
        })
        .await
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let account = account.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE account = ?1"
            ))?
            .query_row([account], user_row)
            .optional()?)
        })
        .await
    }

    async fn set_user_secret(&self, user: UserId, secret: &str) -> Result<()> {
        let secret = secret.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET secret = ?2 WHERE id = ?1")?
                .execute(params![id(user), secret])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            Ok(())
        })
        .await
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        let query = query.to_owned();
        self.read(move |c| {
            // instr() is case-sensitive, unlike LIKE, and needs no escaping of % and _.
            let mut stmt = c.prepare_cached(
                "SELECT id, account, nickname, avatar FROM users
                 WHERE instr(account, ?1) > 0 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![query, limit_i64(limit)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let candidate = candidate.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('server_secret', ?1)",
            )?
            .execute([&candidate])?;
            Ok(
                c.prepare_cached("SELECT value FROM settings WHERE key = 'server_secret'")?
                    .query_row([], |r| r.get(0))?,
            )
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM sqlite_schema")?
                .query_row([], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl FriendStore for SqliteStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let msg = msg.to_owned();
        self.write(move |c| {
            let (from, to) = (id(from), id(to));
            if !user_exists(c, to)? {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            if are_friends(c, from, to)? {
                return Err(StorageError::Conflict(Conflict::AlreadyFriends).into());
            }
            let open = c
                .prepare_cached(
                    "SELECT id, from_user, to_user, msg, status FROM friend_requests
                     WHERE from_user = ?1 AND to_user = ?2 AND status = ?3
                     ORDER BY seq DESC LIMIT 1",
                )?
                .query_row(params![from, to, RequestStatus::Open as i64], request_row)
                .optional()?;
            if let Some(open) = open {
                return Ok(open);
            }
            let exists: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM friend_requests WHERE id = ?1)")?
                .query_row([id(request)], |r| r.get(0))?;
            if exists {
                return Err(StorageError::Conflict(Conflict::Request).into());
            }
            c.prepare_cached(
                "INSERT INTO friend_requests (id, from_user, to_user, msg, status)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                id(request),
                from,
                to,
                msg,
                RequestStatus::Open as i64
            ])?;
            Ok(FriendRequest {
                id: request,
                from: from as u64,
                to: to as u64,
                msg,
                status: RequestStatus::Open,
            })
        })
        .await
    }

    async fn friend_requests(&self, to: UserId) -> Result<Vec<FriendRequest>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, from_user, to_user, msg, status FROM friend_requests
                 WHERE to_user = ?1 ORDER BY seq DESC",
            )?;
            let rows = stmt.query_map([id(to)], request_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn answer_friend_request(
        &self,
        request: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        self.write(move |c| {
            let found = c
                .prepare_cached(
                    "SELECT id, from_user, to_user, msg, status FROM friend_requests
                     WHERE id = ?1 AND to_user = ?2",
                )?
                .query_row([id(request), id(to)], request_row)
                .optional()?;
            let Some(mut found) = found else {
                return Err(StorageError::NotFound(Entity::Request).into());
            };
            if found.status != RequestStatus::Open {
                return Err(StorageError::Conflict(Conflict::AlreadyAnswered).into());
            }
            found.status = if accept {
                RequestStatus::Accepted
            } else {
                RequestStatus::Refused
            };
            c.prepare_cached("UPDATE friend_requests SET status = ?2 WHERE id = ?1")?
                .execute([id(request), found.status as i64])?;
            if accept {
                let mut add = c.prepare_cached(
                    "INSERT OR IGNORE INTO friends (user_id, friend_id) VALUES (?1, ?2)",
                )?;
                add.execute([id(found.from), id(found.to)])?;
                add.execute([id(found.to), id(found.from)])?;
            }
            Ok(found)
        })
        .await
    }

    async fn friends(&self, user: UserId) -> Result<Vec<Profile>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = ?1 ORDER BY u.id",
            )?;
            let rows = stmt.query_map([id(user)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM friends WHERE (user_id = ?1 AND friend_id = ?2)
                                            OR (user_id = ?2 AND friend_id = ?1)",
                )?
                .execute([id(user), id(friend)])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Friend).into());
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl GroupStore for SqliteStorage {
    async fn create_group(
        &self,
        group: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
    ) -> Result<Group> {
        let name = name.to_owned();
        let mut all = vec![id(owner)];
        all.extend(members.iter().map(|&m| id(m)));
        all.sort_unstable();
        all.dedup();
        self.write_with(true, move |c, cache| {
            if group_exists(c, id(group))? {
                return Err(StorageError::Conflict(Conflict::Group).into());
            }
            for &user in &all {
                if !cache.user_exists(c, user)? {
                    return Err(StorageError::NotFound(Entity::User).into());
                }
            }
            c.prepare_cached("INSERT INTO chat_groups (id, name, owner) VALUES (?1, ?2, ?3)")?
                .execute(params![id(group), name, id(owner)])?;
            join_group(c, cache, id(group), &all)?;
            Ok(Group {
                id: group,
                name,
                owner,
                member_count: all.len() as u64,
            })
        })
        .await
    }

    async fn add_members(&self, group: GroupId, users: &[UserId]) -> Result<()> {
        let users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        self.write_with(true, move |c, cache| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            for &user in &users {
                if !cache.user_exists(c, user)? {
                    return Err(StorageError::NotFound(Entity::User).into());
                }
            }
            join_group(c, cache, id(group), &users)?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()> {
        self.write_with(true, move |c, cache| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            cache.forget_group(id(group));
            let n = c
                .prepare_cached("DELETE FROM members WHERE group_id = ?1 AND user_id = ?2")?
                .execute([id(group), id(user)])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Member).into());
            }
            // Without its cursor nothing of the group is pending for it any more.
            if let Some(conv) = cache.conv(c, Conversation::Group(group))? {
                c.prepare_cached("DELETE FROM cursors WHERE user_id = ?1 AND conv = ?2")?
                    .execute([id(user), conv.id])?;
            }
            Ok(())
        })
        .await
    }

    async fn group(&self, group: GroupId) -> Result<Option<Group>> {
        self.read(move |c| Ok(group_by_id(c, id(group))?)).await
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT g.id, g.name, g.owner,
                        (SELECT COUNT(*) FROM members n WHERE n.group_id = g.id)
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.user_id = ?1 ORDER BY g.id",
            )?;
            let rows = stmt.query_map([id(user)], group_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn group_members(&self, group: GroupId) -> Result<Vec<Profile>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.group_id = ?1 ORDER BY u.id",
            )?;
            let rows = stmt.query_map([id(group)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        self.read(move |c| Ok(is_member(c, id(group), id(user))?))
            .await
    }
}

#[async_trait]
impl MessageStore for SqliteStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut out = self.store_messages(vec![msg]).await?;
        out.pop()
            .ok_or_else(|| StorageError::unavailable_msg("the SQLite write returned nothing"))
    }

    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        // One job, no savepoint: each message is atomic on its own (see `store_one`), and if
        // one fails the call fails with those before it stored, as the contract allows.
        self.write_with(false, move |c, cache| {
            msgs.into_iter().map(|m| store_one(c, cache, m)).collect()
        })
        .await
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        msg_id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>> {
        let msg_id = msg_id.to_owned();
        self.write_with(true, move |c, cache| {
            let Some(state) = cache.conv(c, conv)? else {
                return Ok(None);
            };
            let Some(msg) = find_message(c, state.id, &msg_id)? else {
                return Ok(None);
            };
            let recipient = msg.from != reader
                && match conv {
                    Conversation::Direct { low, high } => reader == low || reader == high,
                    Conversation::Group(g) => cache
                        .group(c, id(g))?
                        .is_some_and(|m| m.binary_search(&id(reader)).is_ok()),
                };
            if !recipient {
                return Ok(None);
            }
            let seq = to_i64(msg.conv_seq);
            let read = if receipt == Receipt::Read { seq } else { 0 };
            c.prepare_cached(
                "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, conv) DO UPDATE SET
                     arrived_seq = max(arrived_seq, excluded.arrived_seq),
                     read_seq = max(read_seq, excluded.read_seq)",
            )?
            .execute(params![id(reader), state.id, seq, read])?;
            Ok(Some(msg))
        })
        .await
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |c| {
            let mut stmt = c.prepare_cached(PENDING_SQL)?;
            let rows = stmt.query_map(params![id(user), to_i64(after), limit_i64(limit)], |r| {
                let order = r.get::<_, i64>(0)? as u64;
                let chat_type: i32 = r.get(5)?;
                Ok(PendingMessage {
                    order,
                    message: StoredMessage {
                        id: r.get(1)?,
                        conv_seq: r.get::<_, i64>(2)? as u64,
                        from: r.get::<_, i64>(3)? as u64,
                        to: r.get::<_, i64>(4)? as u64,
                        chat_type: ChatType::try_from(chat_type).unwrap_or(ChatType::Single),
                        msg_type: r.get(6)?,
                        content: r.get(7)?,
                        timestamp: r.get(8)?,
                    },
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |c| {
            let Some(key) = conv_id(c, &conv.key())? else {
                return Ok(Vec::new());
            };
            let limit = limit_i64(limit);
            let (sql, bound) = match page {
                HistoryPage::Latest => ("AND conv_seq < ?2 ORDER BY conv_seq DESC", i64::MAX),
                HistoryPage::Before(s) => ("AND conv_seq < ?2 ORDER BY conv_seq DESC", to_i64(s)),
                HistoryPage::After(s) => ("AND conv_seq > ?2 ORDER BY conv_seq ASC", to_i64(s)),
            };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 {sql} LIMIT ?3"
            ))?;
            let messages = stmt
                .query_map(params![key, bound, limit], message_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // 1:1: each message's status is how far its recipient's cursor has got.
            let mut cursors: Vec<(u64, i64, i64)> = Vec::new();
            if let Conversation::Direct { low, high } = conv {
                let mut stmt = c.prepare_cached(
                    "SELECT arrived_seq, read_seq FROM cursors WHERE user_id = ?1 AND conv = ?2",
                )?;
                for user in [low, high] {
                    if let Some((a, r)) = stmt
                        .query_row(params![id(user), key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?
                    {
                        cursors.push((user, a, r));
                    }
                }
            }
            Ok(messages
                .into_iter()
                .map(|message| {
                    let seq = to_i64(message.conv_seq);
                    let status = match cursors.iter().find(|(u, _, _)| *u == message.to) {
                        Some(&(_, _, read)) if read >= seq => MsgStatus::Read,
                        Some(&(_, arrived, _)) if arrived >= seq => MsgStatus::Arrived,
                        _ => MsgStatus::Sent,
                    };
                    HistoryItem { message, status }
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_parses_case_insensitively() {
        assert_eq!("normal".parse::<Synchronous>(), Ok(Synchronous::Normal));
        assert_eq!("FULL".parse::<Synchronous>(), Ok(Synchronous::Full));
        assert_eq!(" Full ".parse::<Synchronous>(), Ok(Synchronous::Full));
        let err = "off".parse::<Synchronous>().unwrap_err();
        assert!(err.contains("\"off\"") && err.contains("normal"), "{err}");
        assert_eq!(Synchronous::Full.to_string().parse(), Ok(Synchronous::Full));
    }

    #[test]
    fn pending_query_uses_indexes() {
        let dir = tempfile::TempDir::new().unwrap();
        let conn = open_writer(&dir.path().join("eqp.db"), Synchronous::Normal).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PENDING_SQL}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params![1, 0, 10], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        println!("{plan}");
        assert!(!plan.contains("SCAN"), "pending scans a table:\n{plan}");
        assert!(plan.contains("SEARCH c USING PRIMARY KEY"), "{plan}");
        assert!(plan.contains("SEARCH m USING INDEX"), "{plan}");
    }
}
