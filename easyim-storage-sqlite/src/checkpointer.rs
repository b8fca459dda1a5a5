//! [`Checkpointer`]: the thread that copies the WAL back into the database file.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use easyim_core::StorageError;
use rusqlite::Connection;

use crate::error::{unavailable, Result};
use crate::options::Synchronous;
use crate::schema::BUSY_TIMEOUT;

/// Copies the WAL back into the database file in the background (`PRAGMA
/// wal_checkpoint(PASSIVE)` every [`CHECKPOINT_EVERY`] on a connection of its own). A passive
/// checkpoint never blocks the writer or the readers; doing it here keeps its fsyncs off the
/// writer's path, where they would stall every message waiting for the next commit.
pub(crate) struct Checkpointer {
    /// Dropping it wakes the thread and ends it.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

impl Checkpointer {
    pub(crate) fn start(path: &Path, synchronous: Synchronous) -> Result<Self> {
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
