//! Friends and friend requests.

use axum::extract::State;
use easyim_proto::frames;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::user::profile_json;
use super::{ok, ApiResult, AppState};

/// Longest message that may come with a friend request, in bytes.
const MAX_REQUEST_MSG: usize = 512;

/// GET `/api/user/friends`.
pub(crate) async fn friends(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let friends = state.engine.storage().friends(me).await?;
    let items: Vec<Value> = friends.iter().map(profile_json).collect();
    ok(json!({ "total": items.len(), "items": items }))
}

/// POST `/api/user/friend/add`: a friend request, announced to the target if it is online.
pub(crate) async fn add(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let to = p.id("to_user_id")?;
    let msg = p.opt_str("msg")?.unwrap_or_default();
    if to == me {
        return Err(ApiError::bad("cannot add yourself as a friend"));
    }
    if msg.len() > MAX_REQUEST_MSG {
        return Err(ApiError::bad(format!(
            "`msg` must be at most {MAX_REQUEST_MSG} bytes"
        )));
    }
    let request = state
        .engine
        .storage()
        .create_friend_request(state.engine.next_id(), me, to, &msg)
        .await?;
    let to_str = to.to_string();
    state.engine.notify(
        to,
        frames::notice(&to_str, format!("FRIEND_REQUEST: {}", request.id)),
    );
    ok(json!({ "id": request.id.to_string() }))
}

/// POST `/api/user/friend/accept`.
pub(crate) async fn accept(State(state): State<AppState>, p: Params) -> ApiResult {
    answer(state, p, true).await
}

/// POST `/api/user/friend/refuse`.
pub(crate) async fn refuse(State(state): State<AppState>, p: Params) -> ApiResult {
    answer(state, p, false).await
}

async fn answer(state: AppState, p: Params, accept: bool) -> ApiResult {
    let me = p.caller(&state).await?;
    let id = p.id("id")?;
    state
        .engine
        .storage()
        .answer_friend_request(id, me, accept)
        .await?;
    ok(json!({}))
}

/// POST `/api/user/friend/remove`.
pub(crate) async fn remove(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let friend = p.id("friend_id")?;
    state.engine.storage().remove_friend(me, friend).await?;
    ok(json!({}))
}

/// GET `/api/user/friend/requests`: the requests addressed to the caller.
pub(crate) async fn requests(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let requests = state.engine.storage().friend_requests(me).await?;
    let items: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "id": r.id.to_string(),
                "from_user_id": r.from.to_string(),
                "msg": r.msg,
                "status": r.status as i32,
            })
        })
        .collect();
    ok(json!({ "items": items }))
}
