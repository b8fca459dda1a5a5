//! [`Admin`]: what the team's backend may do through the server API: send messages as any
//! user or as the system, create accounts without passwords, issue their tokens, disable and
//! enable them, close their connections, and read the state of users, groups and the node.
//!
//! - `send`: [`Admin::send`] and its records.
//! - `state`: [`Admin::user_state`], [`Admin::group_state`], [`Admin::server_state`].
//!
//! Every method trusts its caller (the transport checked the admin token): it acts for no
//! user, so no user-level rule (friendship, role, block) applies, only the bounds.

mod send;
mod state;

use std::sync::Arc;

use tracing::instrument;

use crate::accounts::{SignedIn, MAX_ACCOUNT, MAX_NICKNAME};
use crate::auth::{disabled_secret, is_disabled_secret, random_secret, Auth, Grant};
use crate::engine::Engine;
use crate::error::{Conflict, Entity, ImError, StorageError};
use crate::storage::Storage;
use crate::types::{Profile, User, UserId};

pub use send::{
    AdminMessage, Recipients, SendOutcome, Sender, Sent, MAX_ADMIN_CONTENT, MAX_MESSAGE_ID,
    SYSTEM_USER,
};
pub use state::{GroupState, ServerState, UserState};

/// The most accounts one [`Admin::create_users`] call may create.
pub const MAX_BULK_USERS: usize = 100;

/// One account for [`Admin::create_users`]: no password (it signs in with tokens the backend
/// gets from [`Admin::issue_tokens`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NewAccount {
    /// The login name: unique, 1 to [`MAX_ACCOUNT`] bytes, no control characters.
    pub account: String,
    /// The display name (at most [`MAX_NICKNAME`] bytes); the account name when empty.
    pub nickname: String,
}

impl NewAccount {
    /// The account `account` shown as `nickname` (empty: the account name).
    pub fn new(account: impl Into<String>, nickname: impl Into<String>) -> Self {
        NewAccount {
            account: account.into(),
            nickname: nickname.into(),
        }
    }
}

/// What became of one account of [`Admin::create_users`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Created now.
    Created(Profile),
    /// The account name was taken already: this is its profile (the call is idempotent by
    /// name), nothing changed.
    Existing(Profile),
}

/// The server API's domain. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    store: Arc<dyn Storage>,
    auth: Arc<dyn Auth>,
    engine: Engine,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    pub(crate) fn new(store: Arc<dyn Storage>, auth: Arc<dyn Auth>, engine: Engine) -> Self {
        Admin {
            store,
            auth,
            engine,
        }
    }

    /// Creates accounts without passwords (they cannot sign in with one), 1 to
    /// [`MAX_BULK_USERS`] of them, each on its own: one [`Created`] per account, in order.
    /// `Invalid` (nothing created) if any name or nickname breaks the rules of
    /// [`crate::Accounts::register`] or a name appears twice.
    #[instrument(skip_all, fields(n = accounts.len()))]
    pub async fn create_users(&self, accounts: Vec<NewAccount>) -> Result<Vec<Created>, ImError> {
        if accounts.is_empty() || accounts.len() > MAX_BULK_USERS {
            return Err(ImError::invalid(format!(
                "`users` must list 1 to {MAX_BULK_USERS} accounts"
            )));
        }
        let mut names = std::collections::HashSet::new();
        for a in &accounts {
            if a.account.is_empty()
                || a.account.len() > MAX_ACCOUNT
                || a.account.chars().any(char::is_control)
            {
                return Err(ImError::invalid(format!(
                    "`account` must be 1 to {MAX_ACCOUNT} bytes, without control characters"
                )));
            }
            if a.nickname.len() > MAX_NICKNAME {
                return Err(ImError::invalid(format!(
                    "`nickname` must be at most {MAX_NICKNAME} bytes"
                )));
            }
            if !names.insert(a.account.as_str()) {
                return Err(ImError::invalid("an account name appears twice"));
            }
        }
        let mut out = Vec::with_capacity(accounts.len());
        for NewAccount { account, nickname } in accounts {
            out.push(self.create_one(account, nickname).await?);
        }
        tracing::info!(n = out.len(), "accounts created by the server API");
        Ok(out)
    }

    async fn create_one(&self, account: String, nickname: String) -> Result<Created, ImError> {
        if let Some(u) = self.store.user_by_account(&account).await? {
            return Ok(Created::Existing(u.profile()));
        }
        let user = User {
            id: self.engine.next_id(),
            nickname: if nickname.is_empty() {
                account.clone()
            } else {
                nickname
            },
            account: account.clone(),
            avatar: String::new(),
            // No PHC string matches any password: the account has none.
            password_hash: String::new(),
            secret: random_secret(),
        };
        match self.store.create_user(user).await {
            Ok(u) => Ok(Created::Created(u.profile())),
            // Created meanwhile by another call: the same answer as if it had been first.
            Err(StorageError::Conflict(Conflict::Account)) => self
                .store
                .user_by_account(&account)
                .await?
                .map(|u| Created::Existing(u.profile()))
                .ok_or(ImError::Conflict(Conflict::Account)),
            Err(e) => Err(e.into()),
        }
    }

    /// A fresh pair of tokens for an existing user: its access token logs in to the IM port
    /// and calls the API like one from a password login. `NotFound(User)`; `Forbidden` for a
    /// disabled account.
    pub async fn issue_tokens(&self, user: UserId) -> Result<SignedIn, ImError> {
        let account = self.account(user).await?;
        let access = self.auth.issue(user, Grant::Access).await?;
        let refresh = self.auth.issue(user, Grant::Refresh).await?;
        tracing::info!(user, "tokens issued by the server API");
        Ok(SignedIn {
            profile: account.profile(),
            access,
            refresh,
        })
    }

    /// Disables `user`: every token it holds is revoked, none is issued while it is disabled
    /// (password login and refresh fail), and its connections on every node are closed with
    /// `E_AUTH_REVOKED` at once. Disabling a disabled account changes nothing but the
    /// revocation. `NotFound(User)`.
    pub async fn disable(&self, user: UserId) -> Result<(), ImError> {
        self.account(user).await?;
        self.store.set_user_secret(user, &disabled_secret()).await?;
        self.engine.close_connections(user);
        tracing::info!(user, "account disabled");
        Ok(())
    }

    /// Enables a disabled `user` again (it signs in as before); an enabled one is left as it
    /// is. `NotFound(User)`.
    pub async fn enable(&self, user: UserId) -> Result<(), ImError> {
        let account = self.account(user).await?;
        if is_disabled_secret(&account.secret) {
            self.store.set_user_secret(user, &random_secret()).await?;
            tracing::info!(user, "account enabled");
        }
        Ok(())
    }

    /// Closes every connection of `user` on every node with `E_AUTH_REVOKED`, revoking its
    /// tokens (a kicked client must sign in again, or it would be back at once); answers how
    /// many connections it had on this node. `NotFound(User)`.
    pub async fn kick(&self, user: UserId) -> Result<usize, ImError> {
        self.account(user).await?;
        let here = self.engine.online(user);
        self.engine.revoke(user).await?;
        tracing::info!(user, connections = here, "user kicked");
        Ok(here)
    }

    async fn account(&self, user: UserId) -> Result<User, ImError> {
        self.store
            .user(user)
            .await?
            .ok_or(ImError::NotFound(Entity::User))
    }
}
