//! [`Accounts`]: registration, login, tokens and logout.

use std::sync::Arc;

use tracing::instrument;

use crate::auth::{random_secret, Auth, Claims, Grant, IssuedToken};
use crate::engine::Engine;
use crate::error::{Conflict, ImError};
use crate::hasher::Hasher;
use crate::storage::AccountStore;
use crate::types::{Profile, User, UserId};

/// Longest account name, in bytes.
pub const MAX_ACCOUNT: usize = 64;
/// Longest password, in bytes: argon2 takes any length, but hashing megabytes is a cheap DoS.
pub const MAX_PASSWORD: usize = 256;
/// Longest nickname, in bytes.
pub const MAX_NICKNAME: usize = 128;

/// What a new account is made of.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Registration {
    /// The login name: unique, at most [`MAX_ACCOUNT`] bytes, no control characters.
    pub account: String,
    /// The password, at most [`MAX_PASSWORD`] bytes; stored only as an argon2id hash.
    pub password: String,
    /// The display name; the account name when empty.
    pub nickname: String,
}

impl Registration {
    /// A registration of `account` with `password` and `nickname` (empty: the account name).
    pub fn new(
        account: impl Into<String>,
        password: impl Into<String>,
        nickname: impl Into<String>,
    ) -> Self {
        Registration {
            account: account.into(),
            password: password.into(),
            nickname: nickname.into(),
        }
    }
}

/// A signed-in user: its public profile and a fresh pair of tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account's public part.
    pub profile: Profile,
    /// An access token, for API calls and the IM login.
    pub access: IssuedToken,
    /// A refresh token, to buy new tokens with.
    pub refresh: IssuedToken,
}

/// What a refresh buys: the token asked for, and the refresh token to use next time.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The token of the kind asked for.
    pub token: IssuedToken,
    /// The next refresh token of the family (the one presented is spent).
    pub refresh: IssuedToken,
}

/// Accounts and their tokens. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    auth: Arc<dyn Auth>,
    engine: Engine,
    hasher: Hasher,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    pub(crate) fn new(store: Arc<dyn AccountStore>, auth: Arc<dyn Auth>, engine: Engine) -> Self {
        Accounts {
            store,
            auth,
            engine,
            hasher: Hasher::default(),
        }
    }

    /// Creates an account and signs it in. `Invalid` for an empty or over-long account name or
    /// password, `Conflict(Account)` if the name is taken, `Busy` when too many password
    /// hashes wait already.
    #[instrument(skip_all, fields(account = %r.account))]
    pub async fn register(&self, r: Registration) -> Result<SignedIn, ImError> {
        let Registration {
            account,
            password,
            nickname,
        } = r;
        if account.is_empty() {
            return Err(ImError::invalid("missing `account`"));
        }
        if password.is_empty() {
            return Err(ImError::invalid("missing `password`"));
        }
        if account.len() > MAX_ACCOUNT || account.chars().any(char::is_control) {
            return Err(ImError::invalid(format!(
                "`account` must be at most {MAX_ACCOUNT} bytes, without control characters"
            )));
        }
        if password.len() > MAX_PASSWORD {
            return Err(ImError::invalid(format!(
                "`password` must be at most {MAX_PASSWORD} bytes"
            )));
        }
        if nickname.len() > MAX_NICKNAME {
            return Err(ImError::invalid(format!(
                "`nickname` must be at most {MAX_NICKNAME} bytes"
            )));
        }
        // Checked before hashing so a taken name costs no hash; create_user checks again.
        if self.store.user_by_account(&account).await?.is_some() {
            return Err(ImError::Conflict(Conflict::Account));
        }
        let password_hash = self.hasher.hash(password).await?;
        let user = self
            .store
            .create_user(User {
                id: self.engine.next_id(),
                nickname: if nickname.is_empty() {
                    account.clone()
                } else {
                    nickname
                },
                account,
                avatar: String::new(),
                password_hash,
                secret: random_secret(),
            })
            .await?;
        tracing::info!(user = user.id, "account registered");
        self.signed_in(&user).await
    }

    /// Signs in with a password: one `Unauthorized` for an unknown account and a wrong
    /// password, taking the same time for both. `Busy` when too many hashes wait already.
    #[instrument(skip_all, fields(account = %account))]
    pub async fn login(&self, account: &str, password: String) -> Result<SignedIn, ImError> {
        // No account has a longer one, and hashing megabytes is a cheap attack.
        if password.len() > MAX_PASSWORD {
            return Err(ImError::Unauthorized("wrong account or password"));
        }
        let user = self.store.user_by_account(account).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = self.hasher.verify(password.clone(), hash).await?;
        match user {
            Some(user) if matches => {
                if crate::legacy::is_legacy(&user.password_hash) {
                    self.rehash(user.id, password).await;
                }
                self.signed_in(&user).await
            }
            _ => Err(ImError::Unauthorized("wrong account or password")),
        }
    }

    /// Replaces an imported account's legacy hash by an argon2id one, at its first successful
    /// login. A failure leaves the legacy hash (tried again at the next login).
    async fn rehash(&self, user: UserId, password: String) {
        let stored = match self.hasher.hash(password).await {
            Ok(hash) => self
                .store
                .set_password_hash(user, &hash)
                .await
                .map_err(ImError::from),
            Err(e) => Err(e),
        };
        match stored {
            Ok(()) => tracing::info!(user, "legacy password hash replaced by argon2id"),
            Err(e) => tracing::warn!(user, error = %e, "legacy password hash not replaced yet"),
        }
    }

    async fn signed_in(&self, user: &User) -> Result<SignedIn, ImError> {
        let access = self.auth.issue(user.id, Grant::Access).await?;
        let refresh = self.auth.issue(user.id, Grant::Refresh).await?;
        Ok(SignedIn {
            profile: user.profile(),
            access,
            refresh,
        })
    }

    /// The user an access token belongs to; `Unauthorized` for any other token.
    pub async fn authenticate(&self, access_token: &str) -> Result<UserId, ImError> {
        let claims = self.auth.verify(access_token).await?;
        if claims.grant != Grant::Access {
            return Err(ImError::Unauthorized("not an access token"));
        }
        Ok(claims.user)
    }

    /// The claims of any token of ours (access or refresh), or `Unauthorized`.
    pub async fn check_token(&self, token: &str) -> Result<Claims, ImError> {
        Ok(self.auth.verify(token).await?)
    }

    /// A new token of kind `grant`, bought with a refresh token, which is spent: the answer
    /// carries the refresh token to use next time (rotation). A refresh token presented again
    /// revokes every token of its user (see [`Auth::rotate`]). With `reset_secret`, every older
    /// token of the user is revoked first (and its connections closed).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        grant: Grant,
        reset_secret: bool,
    ) -> Result<Refreshed, ImError> {
        let (claims, mut next) = self.auth.rotate(refresh_token).await?;
        if reset_secret {
            self.engine.revoke(claims.user).await?;
            tracing::info!(user = claims.user, "secret reset");
            next = self.auth.issue(claims.user, Grant::Refresh).await?;
        }
        let token = match grant {
            Grant::Access => self.auth.issue(claims.user, Grant::Access).await?,
            Grant::Refresh => next.clone(),
        };
        Ok(Refreshed {
            token,
            refresh: next,
        })
    }

    /// Revokes every token of `user` and closes its connections on every node.
    pub async fn logout(&self, user: UserId) -> Result<(), ImError> {
        self.engine.revoke(user).await?;
        tracing::info!(user, "logged out");
        Ok(())
    }

    /// The public profile of a user.
    pub async fn profile(&self, user: UserId) -> Result<Profile, ImError> {
        self.store
            .user(user)
            .await?
            .map(|u| u.profile())
            .ok_or(ImError::NotFound(crate::Entity::User))
    }

    /// Whether the account storage answers (for health checks).
    pub async fn ping(&self) -> Result<(), ImError> {
        Ok(self.store.ping().await?)
    }
}
