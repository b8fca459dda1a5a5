//! The core's errors: what a storage call, a token check or a domain action can fail with.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The kind of object a storage call or a domain action did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A user account.
    User,
    /// A group.
    Group,
    /// A member of a group (the user exists, but is not in the group).
    Member,
    /// A friendship.
    Friend,
    /// A friend request.
    Request,
    /// A message.
    Message,
    /// A conversation of a user (a 1:1 conversation without messages is none yet).
    Conversation,
    /// A push device of a user.
    Device,
}

impl Entity {
    /// The lowercase name of the entity, as error texts use it.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Group => "group",
            Entity::Member => "member",
            Entity::Friend => "friend",
            Entity::Request => "request",
            Entity::Message => "message",
            Entity::Conversation => "conversation",
            Entity::Device => "device",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a change conflicts with what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Conflict {
    /// The account name is taken.
    Account,
    /// A user with this id exists already.
    User,
    /// A group with this id exists already.
    Group,
    /// A friend request with this id exists already.
    Request,
    /// The two users are friends already.
    AlreadyFriends,
    /// The friend request was answered already.
    AlreadyAnswered,
    /// The group has as many members as its cap allows (the groups service answers
    /// [`ImError::Forbidden`] for it).
    GroupFull,
    /// A user would belong to more groups than the cap allows (the groups service answers
    /// [`ImError::Forbidden`] for it).
    TooManyGroups,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::Account => "account already exists",
            Conflict::User => "user already exists",
            Conflict::Group => "group already exists",
            Conflict::Request => "request already exists",
            Conflict::AlreadyFriends => "already friends",
            Conflict::AlreadyAnswered => "the request was answered already",
            Conflict::GroupFull => "the group is full",
            Conflict::TooManyGroups => "a user is in too many groups",
        })
    }
}

/// The cause of a backend failure: what failed, and the error it failed with, if any.
#[derive(Clone)]
pub struct Backend {
    what: Cow<'static, str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("what", &self.what)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is part of the text too: most log lines print only the top error.
        match &self.source {
            Some(s) => write!(f, "{}: {s}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Backend {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A failure of a storage call (any of the traits in [`crate::storage`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The object the call is about does not exist.
    #[error("{0} not found")]
    NotFound(Entity),
    /// The object to create exists already, or the change conflicts with the current state.
    #[error("{0}")]
    Conflict(Conflict),
    /// The backend failed (I/O, a full disk, a lost connection...). Nothing was committed by the
    /// failed call; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Backend),
}

impl StorageError {
    /// A backend failure: `what` failed with `source`.
    pub fn unavailable(
        what: impl Into<Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StorageError::Unavailable(Backend {
            what: what.into(),
            source: Some(Arc::new(source)),
        })
    }

    /// A backend failure with no underlying error value (a stopped thread, a closed pool).
    pub fn unavailable_msg(what: impl Into<Cow<'static, str>>) -> Self {
        StorageError::Unavailable(Backend {
            what: what.into(),
            source: None,
        })
    }

    /// Whether two errors are of the same kind and name the same entity or conflict (backend
    /// failures are all alike).
    pub fn same_kind(&self, other: &StorageError) -> bool {
        match (self, other) {
            (StorageError::NotFound(a), StorageError::NotFound(b)) => a == b,
            (StorageError::Conflict(a), StorageError::Conflict(b)) => a == b,
            (StorageError::Unavailable(_), StorageError::Unavailable(_)) => true,
            _ => false,
        }
    }
}

/// A failure to issue or verify a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
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
    /// The account is disabled (by the server API): no token is issued for it.
    #[error("account disabled")]
    Disabled,
}

/// A result whose error defaults to [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Why a domain action (the [`crate::Im`] services: accounts, friends, groups, history) was
/// refused or failed. Each variant is one answer a transport renders its own way (the HTTP API:
/// 400, 401, 403, 404, 409, 503, 500).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ImError {
    /// A missing or malformed argument; the text says which and why.
    #[error("{0}")]
    Invalid(String),
    /// A wrong password, or a missing, forged, expired, revoked or wrong-kind token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The acting user may not do this (not a member of the group, say).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The object the action is about does not exist.
    #[error("{0} not found")]
    NotFound(Entity),
    /// The change conflicts with what is stored.
    #[error("{0}")]
    Conflict(Conflict),
    /// The service is saturated (too many password hashes waiting, say); try again later.
    #[error("{0}")]
    Busy(&'static str),
    /// Storage failed; nothing of the action was committed.
    #[error(transparent)]
    Storage(StorageError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl ImError {
    /// An [`ImError::Invalid`] with this text.
    pub fn invalid(what: impl Into<String>) -> Self {
        ImError::Invalid(what.into())
    }
}

impl From<StorageError> for ImError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound(what) => ImError::NotFound(what),
            StorageError::Conflict(c) => ImError::Conflict(c),
            e @ StorageError::Unavailable(_) => ImError::Storage(e),
        }
    }
}

impl From<AuthError> for ImError {
    fn from(e: AuthError) -> Self {
        match e {
            // The reason (expired, bad signature...) stays out of the answer: it would tell a
            // forger how far they got.
            AuthError::InvalidToken(_) => ImError::Unauthorized("invalid or expired token"),
            AuthError::Storage(e) => e.into(),
            AuthError::Hash(cause) => ImError::Hash(cause),
            AuthError::Disabled => ImError::Forbidden("account disabled"),
        }
    }
}
