//! Who of the caller's friends and group co-members is online.

use axum::extract::State;
use easyim_core::PresenceItem;
use serde::Serialize;

use super::error::ApiError;
use super::params::Params;
use super::view::Items;
use super::{ok, ApiResult, AppState};

/// One user's presence, as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct PresenceView {
    id: String,
    online: bool,
    last_seen: i64,
}

impl From<PresenceItem> for PresenceView {
    fn from(p: PresenceItem) -> Self {
        PresenceView {
            id: p.id.to_string(),
            online: p.online,
            last_seen: p.last_seen,
        }
    }
}

/// GET `/api/presence`: `user_ids`, comma-separated, at most 200.
pub(crate) async fn presence(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let ids = p
        .opt_ids("user_ids")?
        .ok_or_else(|| ApiError::bad("missing `user_ids`"))?;
    let items = state.im.engine().presence(me, &ids).await?;
    ok(Items::<PresenceView>::of(items))
}
