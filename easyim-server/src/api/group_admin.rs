//! Running a group: its info and settings, kick, mute, roles and ownership, join requests
//! (the owner's and the admins' routes), and the members list with roles.

use std::str::FromStr;

use axum::extract::State;
use easyim_core::{GroupInfo, GroupUpdate, JoinRequest, Member, Profile, Role};
use serde::Serialize;

use super::error::ApiError;
use super::params::Params;
use super::view::{Empty, GroupView, List, Listed, ProfileView};
use super::{ok, ApiResult, AppState};

/// A named value (`role`, `join_policy`...) if given: 400 naming the accepted values otherwise.
fn opt_named<T: FromStr>(p: &Params, name: &str, names: &str) -> Result<Option<T>, ApiError> {
    match p.opt_str(name)? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad(format!("`{name}` must be one of {}", names.trim()))),
    }
}

/// The settings a call gives (create and update): each field that is present.
pub(crate) fn settings(p: &Params) -> Result<GroupUpdate, ApiError> {
    Ok(GroupUpdate {
        name: p.opt_str("name")?,
        avatar: p.opt_str("avatar")?,
        notice: p.opt_str("notice")?,
        join_policy: opt_named(p, "join_policy", easyim_core::JoinPolicy::NAMES)?,
        invite_policy: opt_named(p, "invite_policy", easyim_core::InvitePolicy::NAMES)?,
        history_visible: opt_named(p, "history_visible", easyim_core::HistoryVisible::NAMES)?,
        mute_all: None,
    })
}

/// POST `/api/group/update`: owner and admins.
pub(crate) async fn update(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let update = settings(&p)?;
    state.im.groups().update(me, group, &update).await?;
    ok(Empty {})
}

/// POST `/api/group/kick`: admins kick members, the owner anyone.
pub(crate) async fn kick(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let users = p.opt_ids("user_ids")?.unwrap_or_default();
    state.im.groups().kick(me, group, &users).await?;
    ok(Empty {})
}

/// POST `/api/group/mute`: `seconds` 0 lifts the mute.
pub(crate) async fn mute(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let user = p.id("user_id")?;
    let seconds = p
        .opt_u64("seconds")?
        .ok_or_else(|| ApiError::bad("missing `seconds`"))?;
    state.im.groups().mute(me, group, user, seconds).await?;
    ok(Empty {})
}

/// POST `/api/group/mute_all`.
pub(crate) async fn mute_all(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let muted = p
        .opt_bool("muted")?
        .ok_or_else(|| ApiError::bad("missing `muted`"))?;
    state.im.groups().mute_all(me, group, muted).await?;
    ok(Empty {})
}

/// POST `/api/group/set_role`: owner only.
pub(crate) async fn set_role(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let user = p.id("user_id")?;
    let role: Role = opt_named(&p, "role", "`admin` `member`")?
        .ok_or_else(|| ApiError::bad("missing `role`"))?;
    state.im.groups().set_role(me, group, user, role).await?;
    ok(Empty {})
}

/// POST `/api/group/transfer`: owner only.
pub(crate) async fn transfer(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let user = p.id("user_id")?;
    state.im.groups().transfer(me, group, user).await?;
    ok(Empty {})
}

/// POST `/api/group/dismiss`: owner only.
pub(crate) async fn dismiss(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    state.im.groups().dismiss(me, group).await?;
    ok(Empty {})
}

/// `{...group, avatar, notice, join_policy, invite_policy, history_visible, mute_all, role,
/// muted_until}`: a group as its members see it.
#[derive(Debug, Serialize)]
struct InfoView {
    #[serde(flatten)]
    group: GroupView,
    avatar: String,
    notice: String,
    join_policy: &'static str,
    invite_policy: &'static str,
    history_visible: &'static str,
    mute_all: bool,
    role: &'static str,
    muted_until: i64,
}

impl From<GroupInfo> for InfoView {
    fn from(i: GroupInfo) -> Self {
        InfoView {
            group: i.group.into(),
            avatar: i.settings.avatar,
            notice: i.settings.notice,
            join_policy: i.settings.join_policy.as_str(),
            invite_policy: i.settings.invite_policy.as_str(),
            history_visible: i.settings.history_visible.as_str(),
            mute_all: i.settings.mute_all,
            role: i.role.as_str(),
            muted_until: i.muted_until,
        }
    }
}

/// GET `/api/group/info`: members only.
pub(crate) async fn info(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let info = state.im.groups().info(me, group).await?;
    ok(InfoView::from(info))
}

/// A member: its profile, role and mute.
#[derive(Debug, Serialize)]
pub(crate) struct MemberView {
    #[serde(flatten)]
    profile: ProfileView,
    role: &'static str,
    muted_until: i64,
}

impl From<(Profile, Member)> for MemberView {
    fn from((profile, member): (Profile, Member)) -> Self {
        MemberView {
            profile: profile.into(),
            role: member.role.as_str(),
            muted_until: member.muted_until,
        }
    }
}

/// GET `/api/group/members`: a page of the members with their roles, for members only.
pub(crate) async fn members(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let page = p.page(List::Members)?;
    let members = state
        .im
        .groups()
        .members_with_roles(me, group, page)
        .await?;
    ok(Listed::<MemberView>::of(members, List::Members))
}

/// `{id, group_id, user_id}`: an open join request.
#[derive(Debug, Serialize)]
pub(crate) struct JoinRequestView {
    id: String,
    group_id: String,
    user_id: String,
}

impl From<JoinRequest> for JoinRequestView {
    fn from(r: JoinRequest) -> Self {
        JoinRequestView {
            id: r.id.to_string(),
            group_id: r.group.to_string(),
            user_id: r.user.to_string(),
        }
    }
}

/// GET `/api/group/requests`: a page of the open join requests, for the owner and admins.
pub(crate) async fn requests(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let group = p.id("group_id")?;
    let page = p.page(List::JoinRequests)?;
    let requests = state.im.groups().join_requests(me, group, page).await?;
    ok(Listed::<JoinRequestView>::of(requests, List::JoinRequests))
}

/// POST `/api/group/approve`.
pub(crate) async fn approve(State(state): State<AppState>, p: Params) -> ApiResult {
    answer(state, p, true).await
}

/// POST `/api/group/refuse`.
pub(crate) async fn refuse(State(state): State<AppState>, p: Params) -> ApiResult {
    answer(state, p, false).await
}

async fn answer(state: AppState, p: Params, accept: bool) -> ApiResult {
    let me = p.caller(&state).await?;
    let id = p.id("id")?;
    state
        .im
        .groups()
        .answer_join_request(me, id, accept)
        .await?;
    ok(Empty {})
}
