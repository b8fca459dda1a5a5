//! [`DbError`]: what a call fails with before it becomes a [`StorageError`].

use std::time::Duration;

use easyim_core::StorageError;

/// The crate's result: a [`StorageError`] unless said otherwise.
pub(crate) type Result<T, E = StorageError> = std::result::Result<T, E>;

/// MySQL's error numbers for a transaction the server rolled back to break a deadlock, and for
/// a lock wait that timed out: safe to run again.
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;

/// What a call fails with before it becomes a [`StorageError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// The server or the connection failed.
    #[error("MySQL: {0}")]
    My(#[from] mysql_async::Error),
    /// No connection could be had from the pool in time.
    #[error("MySQL pool: no connection within {0:?}")]
    PoolTimeout(Duration),
    /// A column did not hold what the schema says it holds.
    #[error("MySQL: column {index} holds an unexpected value")]
    Column {
        /// The column's position in the row.
        index: usize,
        /// What was there instead.
        #[source]
        source: mysql_async::FromValueError,
    },
    /// A row had fewer columns than the query selects.
    #[error("MySQL: no column {0} in the row")]
    NoColumn(usize),
    /// An answer of the `Storage` contract (`NotFound`, `Conflict`), passed through as it is.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DbError {
    /// A deadlock or lock wait timeout: the transaction was rolled back, retry it.
    pub(crate) fn retryable(&self) -> bool {
        matches!(
            self,
            DbError::My(mysql_async::Error::Server(e))
                if e.code == ER_LOCK_DEADLOCK || e.code == ER_LOCK_WAIT_TIMEOUT
        )
    }
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Storage(e) => e,
            other => {
                tracing::warn!(error = %other, "MySQL failure");
                StorageError::unavailable("MySQL", other)
            }
        }
    }
}
