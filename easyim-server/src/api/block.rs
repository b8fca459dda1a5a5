//! Blocks: the users whose 1:1 messages and friend requests the caller refuses.

use axum::extract::State;

use super::params::Params;
use super::view::{Empty, List, Listed, ProfileView};
use super::{ok, ApiResult, AppState};

/// POST `/api/user/block`.
pub(crate) async fn block(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let user = p.id("user_id")?;
    state.im.friends().block(me, user).await?;
    ok(Empty {})
}

/// POST `/api/user/unblock`.
pub(crate) async fn unblock(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let user = p.id("user_id")?;
    state.im.friends().unblock(me, user).await?;
    ok(Empty {})
}

/// GET `/api/user/blocks`: a page of the users the caller blocked.
pub(crate) async fn blocks(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let page = p.page(List::Blocks)?;
    let blocked = state.im.friends().blocked(me, page).await?;
    ok(Listed::<ProfileView>::of(blocked, List::Blocks))
}
