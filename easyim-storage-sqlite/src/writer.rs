//! [`Writer`]: the one thread that writes, its queue of jobs and its group commit.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use easyim_core::StorageError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::cache::Cache;
use crate::error::{unavailable, DbError, Result};

/// The most jobs one group commit takes: bounds the latency a batch adds to its first caller.
const MAX_BATCH: usize = 1024;
/// Jobs waiting for the writer; callers wait (asynchronously) when it is full.
const QUEUE: usize = 4 * MAX_BATCH;

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    commits: AtomicU64,
    jobs: AtomicU64,
}

impl Stats {
    /// How many transactions the writer has committed.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// How many jobs those transactions carried.
    pub(crate) fn jobs(&self) -> u64 {
        self.jobs.load(Ordering::Relaxed)
    }
}

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

/// A write call: the closure to run, and where to send its answer once the batch committed.
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

/// The writer thread, owner of the only read-write connection, and the bounded queue of jobs
/// it takes from.
pub(crate) struct Writer {
    tx: mpsc::Sender<Box<dyn WriteJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which it owns from then on.
    pub(crate) fn start(conn: Connection, stats: Arc<Stats>) -> Result<Self> {
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

    /// Runs `f` on the writer thread with the writer's [`Cache`], inside its own savepoint if
    /// `savepoint`, and answers once the batch that carried it committed (or failed).
    pub(crate) async fn call<R, F>(&self, savepoint: bool, f: F) -> Result<R>
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
        self.tx
            .send(job)
            .await
            .map_err(|_| StorageError::unavailable_msg("the SQLite writer has stopped"))?;
        answer
            .await
            .map_err(|_| StorageError::unavailable_msg("the SQLite writer dropped the call"))?
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

pub(crate) fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs one job inside the open transaction, in its own savepoint if it asks for one. A job
/// that fails (or panics) empties `cache` and, with a savepoint, has its own writes undone; an
/// error is a statement of the savepoint itself failing, which [`run_batch`] handles.
fn run_job(conn: &Connection, cache: &mut Cache, job: &mut dyn WriteJob) -> rusqlite::Result<()> {
    let guarded = job.savepoint();
    if guarded {
        exec(conn, "SAVEPOINT job")?;
    }
    let ok = catch_unwind(AssertUnwindSafe(|| job.run(conn, cache))).unwrap_or_else(|_| {
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
    Ok(())
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
        let step = run_job(conn, cache, batch[i].as_mut());
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
            cache.discard_own();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let rest = batch.split_off(i + 1);
            fail(batch, e);
            return rest;
        }
    }
    match cache
        .flush_own(conn)
        .and_then(|()| conn.execute_batch("COMMIT"))
    {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            for job in batch.drain(..) {
                job.finish(Ok(()));
            }
        }
        Err(e) => {
            cache.clear();
            cache.discard_own();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            fail(batch, unavailable("cannot commit a SQLite transaction", e));
        }
    }
    Vec::new()
}
