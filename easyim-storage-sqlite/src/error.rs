//! [`DbError`]: what a job or a read fails with before it becomes a [`StorageError`].

use easyim_core::StorageError;

/// The crate's result: a [`StorageError`] unless said otherwise.
pub(crate) type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What a job or a read fails with: an SQL error (becomes `Unavailable`) or an answer of the
/// `Storage` contract (`NotFound`, `Conflict`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// SQLite failed; the caller sees [`StorageError::Unavailable`].
    #[error("SQLite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// An answer of the `Storage` contract, passed through as it is.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sql(e) => unavailable("SQLite", e),
            DbError::Storage(e) => e,
        }
    }
}

/// `Unavailable` with `e` as its source, logged once here with what failed.
pub(crate) fn unavailable(what: &str, e: rusqlite::Error) -> StorageError {
    tracing::warn!(error = %e, what, "SQLite failure");
    StorageError::unavailable(what.to_owned(), e)
}
