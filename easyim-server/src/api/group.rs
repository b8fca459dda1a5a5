//! Groups and their members.

use axum::extract::State;
use easyim_core::Joined;
use serde::Serialize;

use super::error::ApiError;
use super::group_admin;
use super::params::Params;
use super::view::{Created, Empty, GroupView, List, Listed};
use super::{ok, ApiResult, AppState};

/// POST `/api/group/create`: the caller is owner and member.
pub(crate) async fn create(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let name = p.str("name")?;
    let members = p.opt_ids("member_ids")?.unwrap_or_default();
    let settings = group_admin::settings(&p)?;
    let group = state
        .im
        .groups()
        .create_with(me, &name, &members, &settings)
        .await?;
    ok(Created::new(group.id))
}

/// POST `/api/group/invite`: any member may add users, or only admins (`invite_policy`).
pub(crate) async fn invite(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let users = p.opt_ids("user_ids")?.unwrap_or_default();
    state.im.groups().invite(me, group, &users).await?;
    ok(Empty {})
}

/// POST `/api/group/join`: joins an `open` group, asks to join an `approval` one; rate
/// limited per IP like login, so that group ids cannot be guessed quickly; one 403 for a group
/// that takes no joins and one that does not exist.
pub(crate) async fn join(State(state): State<AppState>, p: Params) -> ApiResult {
    if !state.limiter.allow(p.peer) {
        return Err(ApiError::RateLimited);
    }
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    match state.im.groups().join(me, group).await? {
        Joined::Requested(r) => ok(JoinView {
            status: "requested",
            request_id: Some(r.id.to_string()),
        }),
        _ => ok(JoinView {
            status: "joined",
            request_id: None,
        }),
    }
}

/// `{status: "joined"}`, or `{status: "requested", request_id}` for a group that takes members
/// on approval.
#[derive(Debug, Serialize)]
struct JoinView {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

/// POST `/api/group/leave`: 404 if the caller is not a member.
pub(crate) async fn leave(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    state.im.groups().leave(me, group).await?;
    ok(Empty {})
}

/// GET `/api/groups`: a page of the groups the caller belongs to.
pub(crate) async fn groups(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let page = p.page(List::Groups)?;
    let groups = state.im.groups().list(me, page).await?;
    ok(Listed::<GroupView>::of(groups, List::Groups))
}
