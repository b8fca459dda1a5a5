//! A conversation's history, page by page, and delete for me.

use axum::extract::State;
use easyim_core::{HistoryPage, DEFAULT_HISTORY_LIMIT};
use easyim_proto::Msg;
use serde::Serialize;

use super::error::ApiError;
use super::params::Params;
use super::view::Items;
use super::{ok, ApiResult, AppState};

/// GET `/api/messages`.
pub(crate) async fn messages(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let chat_type = p.chat_type()?;
    let peer = p.id("peer_id")?;
    let page = match (p.opt_u64("before_seq")?, p.opt_u64("after_seq")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "give at most one of `before_seq` and `after_seq`",
            ))
        }
        (Some(before), None) => HistoryPage::Before(before),
        (None, Some(after)) => HistoryPage::After(after),
        (None, None) => HistoryPage::Latest,
    };
    let limit = match p.opt_str("limit")?.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_HISTORY_LIMIT,
        // Out of range (or not a number) is the service's 400, with its text.
        Some(text) => text.parse::<usize>().unwrap_or(0),
    };
    let history = state
        .im
        .history()
        .page(me, chat_type, peer, page, limit)
        .await?;
    let items: Vec<Msg> = history
        .into_iter()
        .map(|item| {
            let mut msg = item.message.to_msg();
            msg.status = item.status as i32;
            msg
        })
        .collect();
    ok(Items::<Msg>::of(items))
}

/// `{removed}`: how many messages a delete-for-me removed.
#[derive(Debug, Serialize)]
pub(crate) struct Removed {
    removed: u64,
}

/// POST `/api/messages/delete`: removes messages from the caller's own view.
pub(crate) async fn delete(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let chat_type = p.chat_type()?;
    let peer = p.id("peer_id")?;
    let ids = p
        .opt_strs("ids")?
        .ok_or_else(|| ApiError::bad("missing `ids`"))?;
    let removed = state
        .im
        .history()
        .delete_for_me(me, chat_type, peer, &ids)
        .await?;
    ok(Removed { removed })
}
