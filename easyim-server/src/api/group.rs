//! Groups and their members.

use axum::extract::State;
use easyim_core::{Group, GroupId, UserId};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::user::profile_json;
use super::{ok, ApiResult, AppState};

/// Longest group name, in bytes.
const MAX_NAME: usize = 128;

/// The group, or 404.
pub(crate) async fn existing(state: &AppState, id: GroupId) -> Result<Group, ApiError> {
    state
        .engine
        .storage()
        .group(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("group not found".into()))
}

/// 404 if the group does not exist, 403 if `user` is not one of its members.
pub(crate) async fn require_member(
    state: &AppState,
    group: GroupId,
    user: UserId,
) -> Result<(), ApiError> {
    existing(state, group).await?;
    if state.engine.storage().is_member(group, user).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden("not a member of the group"))
    }
}

/// POST `/api/group/create`: the caller is owner and member.
pub(crate) async fn create(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let name = p.str("name")?;
    let members = p.opt_ids("member_ids")?.unwrap_or_default();
    if name.len() > MAX_NAME {
        return Err(ApiError::bad(format!(
            "`name` must be at most {MAX_NAME} bytes"
        )));
    }
    let group = state
        .engine
        .storage()
        .create_group(state.engine.next_id(), &name, me, &members)
        .await?;
    ok(json!({ "id": group.id.to_string() }))
}

/// POST `/api/group/invite`: any member may add users.
pub(crate) async fn invite(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let users = p.opt_ids("user_ids")?.unwrap_or_default();
    if users.is_empty() {
        return Err(ApiError::bad("missing `user_ids`"));
    }
    require_member(&state, group, me).await?;
    state.engine.storage().add_members(group, &users).await?;
    ok(json!({}))
}

/// POST `/api/group/join`.
pub(crate) async fn join(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    state.engine.storage().add_members(group, &[me]).await?;
    ok(json!({}))
}

/// POST `/api/group/leave`: 404 if the caller is not a member.
pub(crate) async fn leave(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    state.engine.storage().remove_member(group, me).await?;
    ok(json!({}))
}

/// GET `/api/groups`: the groups the caller belongs to.
pub(crate) async fn groups(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let groups = state.engine.storage().groups_of(me).await?;
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({
                "id": g.id.to_string(),
                "name": g.name,
                "owner_id": g.owner.to_string(),
                "member_count": g.member_count,
            })
        })
        .collect();
    ok(json!({ "items": items }))
}

/// GET `/api/group/members`: members only.
pub(crate) async fn members(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    require_member(&state, group, me).await?;
    let members = state.engine.storage().group_members(group).await?;
    let items: Vec<Value> = members.iter().map(profile_json).collect();
    ok(json!({ "items": items }))
}
