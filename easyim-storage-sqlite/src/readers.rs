//! [`Readers`]: the pool of read-only connections reads run on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use easyim_core::StorageError;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::{unavailable, DbError, Result};
use crate::schema::open_reader;

/// The read-only connections; `permits` has one permit per connection, so a read waits
/// (asynchronously) for a free connection before it takes a blocking thread.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(crate) fn open(path: PathBuf, n: usize) -> Result<Self> {
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

    /// Runs `f` on an idle connection in one read transaction, on one of tokio's blocking
    /// threads once a connection is free.
    pub(crate) async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, DbError> + Send + 'static,
    {
        let readers = self.clone();
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
