//! [`AccountStore`]: accounts, their token secrets, and the server secret.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{Profile, User, UserId};

/// Where accounts live. Used by the accounts service and by [`crate::JwtAuth`] (for the
/// per-user token secret). Contracts as for every storage trait (see the module docs).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates an account. `Conflict("account")` if the account name is taken; the id is the
    /// caller's (a fresh snowflake).
    async fn create_user(&self, user: User) -> Result<User>;

    /// The account with this id, if any.
    async fn user(&self, id: UserId) -> Result<Option<User>>;

    /// The account with this exact login name, if any.
    async fn user_by_account(&self, account: &str) -> Result<Option<User>>;

    /// Replaces a user's token secret (logout, reset) and forgets its refresh-token families.
    /// `NotFound(User)` if there is no such user.
    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()>;

    /// Replaces a user's stored password hash (a legacy hash rehashed at its first successful
    /// login). `NotFound(User)` if there is no such user.
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()>;

    /// Moves `user`'s refresh-token family `family` from generation `generation` to the next and
    /// answers true; answers false, changing nothing, when the family is at another generation
    /// (that refresh token was used before: a replay). A family not seen yet is at generation 0.
    /// Atomic: of two calls with the same generation, at most one answers true.
    /// [`AccountStore::set_user_secret`] forgets all of the user's families.
    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool>;

    /// Accounts whose login name contains `query` (case-sensitive substring), by id, at most
    /// `limit`.
    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>>;

    /// The server-wide token signing secret: the stored one if there is one, else `candidate`,
    /// stored now. Every node sharing the storage gets the same answer.
    async fn server_secret(&self, candidate: &str) -> Result<String>;

    /// Succeeds when the backend answers (for `/healthz`).
    async fn ping(&self) -> Result<()>;
}
