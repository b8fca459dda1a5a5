//! The core's errors.

/// A failure of a [`crate::Storage`] call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The object the call is about does not exist (e.g. "user", "group", "request").
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The object to create exists already, or the change conflicts with the current state.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The backend failed (I/O, a full disk, a lost connection...). Nothing was committed by the
    /// failed call; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// A failure to issue or verify a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The token is malformed, forged, expired, revoked, or for an unknown user.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Storage could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A result whose error defaults to [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
