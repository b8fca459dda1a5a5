//! Accounts and tokens: register, login, logout, check_token, refresh_token, search.

use axum::extract::State;
use easyim_core::{hash_password, random_secret, verify_password, Grant, Profile, User};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::{ok, ApiResult, AppState};

/// Longest account name, in bytes.
const MAX_ACCOUNT: usize = 64;
/// Longest password, in bytes: argon2 takes any length, but hashing megabytes is a cheap DoS.
const MAX_PASSWORD: usize = 256;
/// Longest nickname, in bytes.
const MAX_NICKNAME: usize = 128;
/// Most accounts a search returns.
const SEARCH_LIMIT: usize = 50;

/// `{id, account, nickname, avatar}` with the id as a decimal string.
pub(crate) fn profile_json(p: &Profile) -> Value {
    json!({
        "id": p.id.to_string(),
        "account": p.account,
        "nickname": p.nickname,
        "avatar": p.avatar,
    })
}

/// POST `/api/user/register`.
pub(crate) async fn register(State(state): State<AppState>, p: Params) -> ApiResult {
    if !state.limiter.allow(p.peer) {
        return Err(ApiError::RateLimited);
    }
    let account = p.str("account")?;
    let password = p.str("password")?;
    let nickname = p.opt_str("nickname")?.filter(|n| !n.is_empty());
    if account.len() > MAX_ACCOUNT || account.chars().any(char::is_control) {
        return Err(ApiError::bad(format!(
            "`account` must be at most {MAX_ACCOUNT} bytes, without control characters"
        )));
    }
    if password.len() > MAX_PASSWORD {
        return Err(ApiError::bad(format!(
            "`password` must be at most {MAX_PASSWORD} bytes"
        )));
    }
    if nickname.as_ref().is_some_and(|n| n.len() > MAX_NICKNAME) {
        return Err(ApiError::bad(format!(
            "`nickname` must be at most {MAX_NICKNAME} bytes"
        )));
    }
    let storage = state.engine.storage();
    // Checked before hashing so a taken name costs no hash; create_user checks again.
    if storage.user_by_account(&account).await?.is_some() {
        return Err(ApiError::Conflict("account already exists".into()));
    }
    let password_hash = hashing(move || hash_password(&password)).await??;
    let user = storage
        .create_user(User {
            id: state.engine.next_id(),
            nickname: nickname.unwrap_or_else(|| account.clone()),
            account,
            avatar: String::new(),
            password_hash,
            secret: random_secret(),
        })
        .await?;
    tracing::info!(user = user.id, "account registered");
    signed_in(&state, &user).await
}

/// POST `/api/user/login`: one 401 for an unknown account and a wrong password.
pub(crate) async fn login(State(state): State<AppState>, p: Params) -> ApiResult {
    if !state.limiter.allow(p.peer) {
        return Err(ApiError::RateLimited);
    }
    let account = p.str("account")?;
    let password = p.str("password")?;
    let user = state.engine.storage().user_by_account(&account).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let dummy = state.dummy_hash.clone();
    let matches = hashing(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            // Spend the same time as a wrong password, so timing does not tell which
            // accounts exist.
            let dummy = dummy.get_or_init(|| hash_password("not a password").unwrap_or_default());
            verify_password(&password, dummy);
            false
        }
    })
    .await?;
    match user {
        Some(user) if matches => signed_in(&state, &user).await,
        _ => Err(ApiError::Unauthorized("wrong account or password")),
    }
}

/// The data of register and login: the profile and a fresh pair of tokens.
async fn signed_in(state: &AppState, user: &User) -> ApiResult {
    let auth = state.engine.auth();
    let access = auth.issue(user.id, Grant::Access).await?;
    let refresh = auth.issue(user.id, Grant::Refresh).await?;
    ok(json!({
        "id": user.id.to_string(),
        "nickname": user.nickname,
        "avatar": user.avatar,
        "access_token": access.token,
        "expires_in": access.expires_in,
        "refresh_token": refresh.token,
    }))
}

/// POST `/api/user/logout`: revokes every token of the caller and closes its connections.
pub(crate) async fn logout(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    state.engine.revoke(me).await?;
    tracing::info!(user = me, "logged out");
    ok(json!({}))
}

/// GET `/api/user/check_token`: the kind and remaining life of `token`.
pub(crate) async fn check_token(State(state): State<AppState>, p: Params) -> ApiResult {
    let claims = p.token_claims(&state, "token").await?;
    ok(json!({
        "grant_type": claims.grant.as_str(),
        "expires_in": claims.expires_in(),
    }))
}

/// POST `/api/user/refresh_token`: a new token of kind `grant_type`, bought with a refresh
/// token; with `reset_secret`, every older token of the user is revoked first.
pub(crate) async fn refresh_token(State(state): State<AppState>, p: Params) -> ApiResult {
    let claims = p.token_claims(&state, "refresh_token").await?;
    if claims.grant != Grant::Refresh {
        return Err(ApiError::Unauthorized("not a refresh token"));
    }
    p.ready()?;
    let grant_type = p.str("grant_type")?;
    let grant = Grant::parse(&grant_type)
        .ok_or_else(|| ApiError::bad("`grant_type` must be `access_token` or `refresh_token`"))?;
    if p.opt_bool("reset_secret")?.unwrap_or(false) {
        state.engine.revoke(claims.user).await?;
        tracing::info!(user = claims.user, "secret reset");
    }
    let issued = state.engine.auth().issue(claims.user, grant).await?;
    ok(json!({
        "grant_type": grant.as_str(),
        "expires_in": issued.expires_in,
        "token": issued.token,
    }))
}

/// GET `/api/user/search`: accounts whose name contains `account`.
pub(crate) async fn search(State(state): State<AppState>, p: Params) -> ApiResult {
    p.caller(&state).await?;
    let query = p.str("account")?;
    let found = state
        .engine
        .storage()
        .search_users(&query, SEARCH_LIMIT)
        .await?;
    let items: Vec<Value> = found.iter().map(profile_json).collect();
    ok(json!({ "items": items }))
}

/// Runs password hashing or verification off the async threads, at most one per core at a
/// time: each takes tens of milliseconds of a core and about 19 MiB, so running more at once
/// only piles up memory (which the allocator then keeps) without finishing sooner.
async fn hashing<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _slot = slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("hash slots: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("hash task: {e}")))
}
