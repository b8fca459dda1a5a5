//! Accounts and tokens: register, login, logout, check_token, refresh_token, search.

use axum::extract::State;
use easyim_core::{Grant, Registration, SEARCH_LIMIT};

use super::error::ApiError;
use super::params::Params;
use super::view::{Empty, Items, NewToken, ProfileView, SignedInView, TokenInfo};
use super::{ok, ApiResult, AppState};

/// POST `/api/user/register`.
pub(crate) async fn register(State(state): State<AppState>, p: Params) -> ApiResult {
    if !state.limiter.allow(p.peer) {
        return Err(ApiError::RateLimited);
    }
    let registration = Registration::new(
        p.str("account")?,
        p.str("password")?,
        p.opt_str("nickname")?.unwrap_or_default(),
    );
    let signed_in = state.im.accounts().register(registration).await?;
    ok(SignedInView::from(signed_in))
}

/// POST `/api/user/login`: one 401 for an unknown account and a wrong password.
pub(crate) async fn login(State(state): State<AppState>, p: Params) -> ApiResult {
    if !state.limiter.allow(p.peer) {
        return Err(ApiError::RateLimited);
    }
    let account = p.str("account")?;
    let password = p.str("password")?;
    let signed_in = state.im.accounts().login(&account, password).await?;
    ok(SignedInView::from(signed_in))
}

/// POST `/api/user/logout`: revokes every token of the caller and closes its connections.
pub(crate) async fn logout(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    state.im.accounts().logout(me).await?;
    ok(Empty {})
}

/// GET `/api/user/check_token`: the kind and remaining life of `token`.
pub(crate) async fn check_token(State(state): State<AppState>, p: Params) -> ApiResult {
    let claims = p.token_claims(&state, "token").await?;
    ok(TokenInfo {
        grant_type: claims.grant.as_str(),
        expires_in: claims.expires_in(),
    })
}

/// POST `/api/user/refresh_token`: a new token of kind `grant_type`, bought with a refresh
/// token; with `reset_secret`, every older token of the user is revoked first.
pub(crate) async fn refresh_token(State(state): State<AppState>, p: Params) -> ApiResult {
    let token = p.named_token("refresh_token")?;
    // A bad token is a 401 before any argument is looked at.
    state.im.accounts().check_token(&token).await?;
    p.ready()?;
    let grant_type = p.str("grant_type")?;
    let grant = Grant::parse(&grant_type)
        .ok_or_else(|| ApiError::bad("`grant_type` must be `access_token` or `refresh_token`"))?;
    let reset = p.opt_bool("reset_secret")?.unwrap_or(false);
    let refreshed = state.im.accounts().refresh(&token, grant, reset).await?;
    ok(NewToken {
        grant_type: grant.as_str(),
        expires_in: refreshed.token.expires_in,
        token: refreshed.token.token,
        refresh_token: refreshed.refresh.token,
    })
}

/// GET `/api/user/search`: accounts whose name contains `account`, at most `limit` (1 to 50).
pub(crate) async fn search(State(state): State<AppState>, p: Params) -> ApiResult {
    p.caller(&state).await?;
    let query = p.str("account")?;
    let limit = p.limit(SEARCH_LIMIT)?;
    let found = state.im.friends().search(&query, limit).await?;
    ok(Items::<ProfileView>::of(found))
}
