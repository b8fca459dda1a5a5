//! [`DbError`]: what a call fails with before it becomes a [`StorageError`], and how the
//! schema's `EI404` / `EI409` errors become the contract's `NotFound` / `Conflict`.

use deadpool_postgres::PoolError;
use easyim_core::{Conflict, Entity, StorageError};
use tokio_postgres::error::SqlState;

/// The crate's result: a [`StorageError`] unless said otherwise.
pub(crate) type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What a call fails with before it becomes a [`StorageError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// The server or the connection failed (or answered with a contract error, see `From`).
    #[error("PostgreSQL: {0}")]
    Pg(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] PoolError),
    /// An answer of the `Storage` contract.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DbError {
    /// A deadlock or serialization failure: the transaction was rolled back, retry it.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            DbError::Pg(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }
}

/// The object the functions of the schema name in their `EI404` errors.
fn missing(s: &str) -> Option<Entity> {
    Some(match s {
        "user" => Entity::User,
        "group" => Entity::Group,
        "member" => Entity::Member,
        "request" => Entity::Request,
        "friend" => Entity::Friend,
        _ => return None,
    })
}

/// The conflict the functions of the schema name in their `EI409` errors.
fn conflict(s: &str) -> Option<Conflict> {
    Some(match s {
        "user" => Conflict::User,
        "group" => Conflict::Group,
        "request" => Conflict::Request,
        "friend" => Conflict::AlreadyFriends,
        "answer" => Conflict::AlreadyAnswered,
        "account" => Conflict::Account,
        "group_full" => Conflict::GroupFull,
        "too_many_groups" => Conflict::TooManyGroups,
        _ => return None,
    })
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Storage(e) => e,
            DbError::Pg(pg) => {
                if let Some(db) = pg.as_db_error() {
                    let code = db.code().code();
                    if let Some(e) = missing(db.message()).filter(|_| code == "EI404") {
                        return StorageError::NotFound(e);
                    }
                    if let Some(c) = conflict(db.message()).filter(|_| code == "EI409") {
                        return StorageError::Conflict(c);
                    }
                }
                tracing::warn!(error = %pg, "PostgreSQL failure");
                StorageError::unavailable("PostgreSQL", pg)
            }
            DbError::Pool(e) => {
                tracing::warn!(error = %e, "PostgreSQL pool failure");
                StorageError::unavailable("PostgreSQL pool", e)
            }
        }
    }
}
