//! Identity: the `Auth` trait, its JWT implementation, and password hashing.

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::ids::now_ms;
use crate::storage::AccountStore;
use crate::types::UserId;

/// Which kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Logs in to the IM port and calls the API (`grant_type = "access_token"`).
    Access,
    /// Only buys new tokens (`grant_type = "refresh_token"`).
    Refresh,
}

impl Grant {
    /// The `grant_type` string of http-api.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Access => "access_token",
            Grant::Refresh => "refresh_token",
        }
    }

    /// Parses a `grant_type` string.
    pub fn parse(s: &str) -> Option<Grant> {
        match s {
            "access_token" => Some(Grant::Access),
            "refresh_token" => Some(Grant::Refresh),
            _ => None,
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Whose token it is.
    pub user: UserId,
    /// Its kind.
    pub grant: Grant,
    /// When it expires, in seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// Seconds left before it expires.
    pub fn expires_in(&self) -> u64 {
        self.exp.saturating_sub(now_ms() / 1000)
    }
}

/// A freshly issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token itself.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
}

/// Issues, verifies and revokes tokens.
#[async_trait]
pub trait Auth: Send + Sync + 'static {
    /// A new token of kind `grant` for `user`. The user must exist.
    async fn issue(&self, user: UserId, grant: Grant) -> Result<IssuedToken, AuthError>;

    /// The claims of `token` if it is authentic, unexpired and not revoked; otherwise
    /// `InvalidToken` (never a panic, whatever the input).
    async fn verify(&self, token: &str) -> Result<Claims, AuthError>;

    /// Invalidates every token `user` holds now. Tokens issued afterwards are valid.
    async fn revoke(&self, user: UserId) -> Result<(), AuthError>;

    /// Spends a refresh token: its claims, and the next refresh token of the same family
    /// (rotation: each refresh token is good once). A refresh token presented a second time is
    /// a replay (it leaked, or its holder's copy did): every token of the user is revoked, and
    /// the answer is `InvalidToken`. Any other token is `InvalidToken`.
    async fn rotate(&self, refresh_token: &str) -> Result<(Claims, IssuedToken), AuthError>;
}

/// The JWT claims on the wire: `id`, `grant_type` and `exp` as http-api.md says.
#[derive(Debug, Serialize, Deserialize)]
struct JwtClaims {
    id: String,
    grant_type: String,
    exp: u64,
    iat: u64,
    /// Refresh tokens: the family (one per sign-in) and its generation; the storage keeps each
    /// family's current generation, so a spent token is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gen: Option<u64>,
}

/// HS256 JWTs signed with the server secret joined to a per-user secret, so that rotating the
/// user's secret (logout, `reset_secret`) revokes all of that user's tokens at once, on every
/// node, with no token list to keep.
pub struct JwtAuth {
    storage: Arc<dyn AccountStore>,
    server_secret: Vec<u8>,
    access_ttl: u64,
    refresh_ttl: u64,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// Tokens signed with `server_secret` (see [`AccountStore::server_secret`]) and each user's
    /// secret, living `access_ttl` and `refresh_ttl` seconds.
    pub fn new(
        storage: Arc<dyn AccountStore>,
        server_secret: impl Into<Vec<u8>>,
        access_ttl: u64,
        refresh_ttl: u64,
    ) -> Self {
        JwtAuth {
            storage,
            server_secret: server_secret.into(),
            access_ttl,
            refresh_ttl,
        }
    }

    fn key(&self, user_secret: &str) -> Vec<u8> {
        let mut key = self.server_secret.clone();
        key.push(b'.');
        key.extend_from_slice(user_secret.as_bytes());
        key
    }

    /// A token of kind `grant` for `user`; a refresh token in `family` (a new one if none) at
    /// `generation`.
    async fn issue_in(
        &self,
        user: UserId,
        grant: Grant,
        family: Option<u64>,
        generation: u64,
    ) -> Result<IssuedToken, AuthError> {
        let account = self
            .storage
            .user(user)
            .await?
            .ok_or_else(|| AuthError::InvalidToken("unknown user".into()))?;
        if is_disabled_secret(&account.secret) {
            return Err(AuthError::Disabled);
        }
        let ttl = match grant {
            Grant::Access => self.access_ttl,
            Grant::Refresh => self.refresh_ttl,
        };
        let now = now_ms() / 1000;
        let claims = JwtClaims {
            id: user.to_string(),
            grant_type: grant.as_str().to_owned(),
            exp: now + ttl,
            iat: now,
            fam: None,
            gen: None,
        };
        let claims = match grant {
            Grant::Access => claims,
            Grant::Refresh => JwtClaims {
                fam: Some(
                    family
                        .unwrap_or_else(|| rand::thread_rng().next_u64())
                        .to_string(),
                ),
                gen: Some(generation),
                ..claims
            },
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key(&account.secret)),
        )
        .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
        })
    }

    /// The claims of an authentic, unexpired token, with its raw JWT claims.
    async fn decode(&self, token: &str) -> Result<(Claims, JwtClaims), AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.to_owned());
        // The signing key depends on the user, so read the (unverified) user id first; nothing
        // read here is trusted until the signature below checks out.
        let mut peek = Validation::new(Algorithm::HS256);
        peek.insecure_disable_signature_validation();
        peek.validate_exp = false;
        peek.required_spec_claims.clear();
        let unverified =
            jsonwebtoken::decode::<JwtClaims>(token, &DecodingKey::from_secret(b""), &peek)
                .map_err(|_| invalid("malformed"))?;
        let user: UserId = unverified
            .claims
            .id
            .parse()
            .map_err(|_| invalid("bad id"))?;
        let account = self
            .storage
            .user(user)
            .await?
            .ok_or_else(|| invalid("unknown user"))?;
        if is_disabled_secret(&account.secret) {
            return Err(invalid("account disabled"));
        }
        let mut strict = Validation::new(Algorithm::HS256);
        strict.leeway = 0;
        strict.set_required_spec_claims(&["exp"]);
        let data = jsonwebtoken::decode::<JwtClaims>(
            token,
            &DecodingKey::from_secret(&self.key(&account.secret)),
            &strict,
        )
        .map_err(|e| AuthError::InvalidToken(e.kind_to_string()))?;
        let grant =
            Grant::parse(&data.claims.grant_type).ok_or_else(|| invalid("bad grant_type"))?;
        let claims = Claims {
            user,
            grant,
            exp: data.claims.exp,
        };
        Ok((claims, data.claims))
    }
}

#[async_trait]
impl Auth for JwtAuth {
    async fn issue(&self, user: UserId, grant: Grant) -> Result<IssuedToken, AuthError> {
        self.issue_in(user, grant, None, 0).await
    }

    async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        Ok(self.decode(token).await?.0)
    }

    async fn revoke(&self, user: UserId) -> Result<(), AuthError> {
        // A disabled account stays disabled: a logout or a kick must not enable it again.
        let disabled = self
            .storage
            .user(user)
            .await?
            .is_some_and(|u| is_disabled_secret(&u.secret));
        let secret = if disabled {
            disabled_secret()
        } else {
            random_secret()
        };
        self.storage.set_user_secret(user, &secret).await?;
        Ok(())
    }

    async fn rotate(&self, refresh_token: &str) -> Result<(Claims, IssuedToken), AuthError> {
        let (claims, raw) = self.decode(refresh_token).await?;
        if claims.grant != Grant::Refresh {
            return Err(AuthError::InvalidToken("not a refresh token".into()));
        }
        // A refresh token made before families existed is its own family, good once.
        let family = match raw.fam.as_deref().map(str::parse::<u64>) {
            Some(Ok(f)) => f,
            Some(Err(_)) => return Err(AuthError::InvalidToken("bad family".into())),
            None => fnv1a(refresh_token.as_bytes()),
        };
        let generation = raw.gen.unwrap_or(0);
        if !self
            .storage
            .advance_refresh(claims.user, family, generation)
            .await?
        {
            tracing::warn!(
                user = claims.user,
                "a spent refresh token was presented again; every token of the user is revoked"
            );
            self.revoke(claims.user).await?;
            return Err(AuthError::InvalidToken("refresh token already used".into()));
        }
        let next = self
            .issue_in(claims.user, Grant::Refresh, Some(family), generation + 1)
            .await?;
        Ok((claims, next))
    }
}

/// 64-bit FNV-1a: a stable family number for a refresh token that names none.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

trait KindToString {
    fn kind_to_string(&self) -> String;
}

impl KindToString for jsonwebtoken::errors::Error {
    fn kind_to_string(&self) -> String {
        match self.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired".into(),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad signature".into(),
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => "bad algorithm".into(),
            _ => "invalid".into(),
        }
    }
}

/// How a disabled account's token secret starts (see [`disabled_secret`]).
const DISABLED_PREFIX: &str = "disabled:";

/// The token secret of a disabled account: `disabled:` and a fresh random secret.
/// Replacing the secret revokes every token of the account at once (as a logout does), and
/// [`JwtAuth`] issues and accepts no token while the secret has this form, so a disabled
/// account can neither log in, nor refresh, nor use a token issued before. Enabling it again
/// stores a plain [`random_secret`]. Keeping the state in the secret makes disabling one
/// atomic write on every storage, with no column to add.
pub fn disabled_secret() -> String {
    format!("{DISABLED_PREFIX}{}", random_secret())
}

/// Whether a stored token secret is a disabled account's (see [`disabled_secret`]).
pub fn is_disabled_secret(secret: &str) -> bool {
    secret.starts_with(DISABLED_PREFIX)
}

/// 32 random bytes as 64 hex digits: a fresh user or server secret.
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches a PHC string made by [`hash_password`]. A malformed hash is no
/// match.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}
