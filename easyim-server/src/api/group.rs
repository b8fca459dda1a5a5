//! Groups and their members.

use axum::extract::State;

use super::params::Params;
use super::view::{Created, Empty, GroupView, List, Listed, ProfileView};
use super::{ok, ApiResult, AppState};

/// POST `/api/group/create`: the caller is owner and member.
pub(crate) async fn create(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let name = p.str("name")?;
    let members = p.opt_ids("member_ids")?.unwrap_or_default();
    let group = state.im.groups().create(me, &name, &members).await?;
    ok(Created::new(group.id))
}

/// POST `/api/group/invite`: any member may add users.
pub(crate) async fn invite(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let users = p.opt_ids("user_ids")?.unwrap_or_default();
    state.im.groups().invite(me, group, &users).await?;
    ok(Empty {})
}

/// POST `/api/group/join`.
pub(crate) async fn join(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    state.im.groups().join(me, group).await?;
    ok(Empty {})
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

/// GET `/api/group/members`: a page of the members, for members only.
pub(crate) async fn members(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let page = p.page(List::Members)?;
    let members = state.im.groups().members(me, group, page).await?;
    ok(Listed::<ProfileView>::of(members, List::Members))
}
