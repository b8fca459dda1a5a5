//! Friends and friend requests.

use axum::extract::State;
use easyim_core::Profile;
use serde::Serialize;

use super::params::Params;
use super::view::{Counted, Created, Empty, List, Listed, ProfileView, RequestView};
use super::{ok, ApiResult, AppState};

/// GET `/api/user/friends`: a page of the caller's friends, with the count of all of them.
pub(crate) async fn friends(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let page = p.page(List::Friends)?;
    let friends = state.im.friends();
    let listed = friends.list_with_remarks(me, page).await?;
    let total = friends.count(me).await?;
    ok(Counted::<FriendView>::of(total, listed, List::Friends))
}

/// A friend: its profile and the caller's remark on it.
#[derive(Debug, Serialize)]
struct FriendView {
    #[serde(flatten)]
    profile: ProfileView,
    remark: String,
}

impl From<(Profile, String)> for FriendView {
    fn from((profile, remark): (Profile, String)) -> Self {
        FriendView {
            profile: profile.into(),
            remark,
        }
    }
}

/// POST `/api/user/friend/remark`: the caller's remark on a friend (empty clears it).
pub(crate) async fn remark(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let friend = p.id("friend_id")?;
    let remark = p.opt_str("remark")?.unwrap_or_default();
    state.im.friends().set_remark(me, friend, &remark).await?;
    ok(Empty {})
}

/// POST `/api/user/friend/add`: a friend request, announced to the target if it is online.
pub(crate) async fn add(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let to = p.id("to_user_id")?;
    let msg = p.opt_str("msg")?.unwrap_or_default();
    let request = state.im.friends().add(me, to, &msg).await?;
    ok(Created::new(request.id))
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
    state.im.friends().answer(me, id, accept).await?;
    ok(Empty {})
}

/// POST `/api/user/friend/remove`.
pub(crate) async fn remove(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let friend = p.id("friend_id")?;
    state.im.friends().remove(me, friend).await?;
    ok(Empty {})
}

/// GET `/api/user/friend/requests`: a page of the requests addressed to the caller.
pub(crate) async fn requests(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let page = p.page(List::Requests)?;
    let requests = state.im.friends().requests(me, page).await?;
    ok(Listed::<RequestView>::of(requests, List::Requests))
}
