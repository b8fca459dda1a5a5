//! The server API (`/api/admin/...`): what the team's backend may do for any user. The gate
//! (`admin_gate`) has checked `ADMIN_TOKEN`; each handler parses its arguments and calls
//! [`easyim_core::Admin`].

use axum::extract::State;
use easyim_core::{AdminMessage, NewAccount, Recipients, Sender, MAX_BULK_USERS};
use easyim_proto::MsgType;
use serde_json::Value;

use super::admin_view::{
    CreatedView, GroupStateView, Kicked, SentView, ServerStateView, UserStateView,
};
use super::error::ApiError;
use super::params::Params;
use super::view::{Empty, Items, SignedInView};
use super::{ok, ApiResult, AppState};

/// POST `/api/admin/message/send`: a message as a user or the system, to one user
/// (`to_user_id`), several (`to_user_ids`) or a group (`to_group_id`).
pub(crate) async fn send(State(state): State<AppState>, p: Params) -> ApiResult {
    let id = p.str("id")?;
    let from = match p.str("from_user_id")?.trim() {
        "system" => Sender::System,
        other => Sender::User(
            other
                .parse()
                .map_err(|_| ApiError::bad("`from_user_id` must be `system` or a user id"))?,
        ),
    };
    let to = match (
        p.opt_u64("to_user_id")?,
        p.opt_ids("to_user_ids")?,
        p.opt_u64("to_group_id")?,
    ) {
        (Some(u), None, None) => Recipients::User(u),
        (None, Some(list), None) => Recipients::Users(list),
        (None, None, Some(g)) => Recipients::Group(g),
        _ => {
            return Err(ApiError::bad(
                "give exactly one of `to_user_id`, `to_user_ids` and `to_group_id`",
            ))
        }
    };
    let msg_type = match p.opt_u64("msg_type")? {
        None => MsgType::Text,
        Some(n) => i32::try_from(n)
            .ok()
            .and_then(|n| MsgType::try_from(n).ok())
            .ok_or_else(|| ApiError::bad("`msg_type` must be 0, 1, 2, 3 or 5"))?,
    };
    let content = p.str("content")?;
    let message = AdminMessage::new(id, from, to, msg_type, content);
    let sent = state.im.admin().send(message).await?;
    ok(Items::<SentView>::of(sent))
}

/// POST `/api/admin/users/create`: `users`, a list of `{account, nickname}`; accounts without
/// passwords.
pub(crate) async fn create_users(State(state): State<AppState>, p: Params) -> ApiResult {
    let bad = || {
        ApiError::bad(format!(
            "`users` must be a list of 1 to {MAX_BULK_USERS} objects {{account, nickname}}"
        ))
    };
    let Some(Value::Array(items)) = p.raw("users")? else {
        return Err(bad());
    };
    if items.is_empty() || items.len() > MAX_BULK_USERS {
        return Err(bad());
    }
    let text = |v: &Value, key: &str| match v.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad(format!("`users[].{key}` must be a string"))),
    };
    let accounts = items
        .iter()
        .map(|v| {
            if !v.is_object() {
                return Err(bad());
            }
            Ok(NewAccount::new(text(v, "account")?, text(v, "nickname")?))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let created = state.im.admin().create_users(accounts).await?;
    ok(Items::<CreatedView>::of(created))
}

/// POST `/api/admin/user/token`: a fresh pair of tokens for `user_id`, as a login gives.
pub(crate) async fn token(State(state): State<AppState>, p: Params) -> ApiResult {
    let signed_in = state.im.admin().issue_tokens(p.id("user_id")?).await?;
    ok(SignedInView::from(signed_in))
}

/// POST `/api/admin/user/disable`.
pub(crate) async fn disable(State(state): State<AppState>, p: Params) -> ApiResult {
    state.im.admin().disable(p.id("user_id")?).await?;
    ok(Empty {})
}

/// POST `/api/admin/user/enable`.
pub(crate) async fn enable(State(state): State<AppState>, p: Params) -> ApiResult {
    state.im.admin().enable(p.id("user_id")?).await?;
    ok(Empty {})
}

/// POST `/api/admin/user/kick`: closes the user's connections and revokes its tokens.
pub(crate) async fn kick(State(state): State<AppState>, p: Params) -> ApiResult {
    let connections = state.im.admin().kick(p.id("user_id")?).await?;
    ok(Kicked { connections })
}

/// GET `/api/admin/user/state`.
pub(crate) async fn user_state(State(state): State<AppState>, p: Params) -> ApiResult {
    let s = state.im.admin().user_state(p.id("user_id")?).await?;
    ok(UserStateView::from(s))
}

/// GET `/api/admin/group/state`.
pub(crate) async fn group_state(State(state): State<AppState>, p: Params) -> ApiResult {
    let s = state.im.admin().group_state(p.id("group_id")?).await?;
    ok(GroupStateView::from(s))
}

/// GET `/api/admin/server/state`.
pub(crate) async fn server_state(State(state): State<AppState>) -> ApiResult {
    ok(ServerStateView::from(state.im.admin().server_state()))
}
