//! Friends and friend requests.

use axum::extract::State;

use super::params::Params;
use super::view::{Counted, Created, Empty, List, Listed, ProfileView, RequestView};
use super::{ok, ApiResult, AppState};

/// GET `/api/user/friends`: a page of the caller's friends, with the count of all of them.
pub(crate) async fn friends(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let page = p.page(List::Friends)?;
    let friends = state.im.friends();
    let listed = friends.list(me, page).await?;
    let total = friends.count(me).await?;
    ok(Counted::<ProfileView>::of(total, listed, List::Friends))
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
