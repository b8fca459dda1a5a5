//! A conversation's history, page by page.

use axum::extract::State;
use easyim_core::{Conversation, HistoryPage};
use serde_json::{json, Value};

use super::error::ApiError;
use super::group::require_member;
use super::params::Params;
use super::{ok, ApiResult, AppState};

/// The page size when `limit` is not given.
const DEFAULT_LIMIT: u64 = 50;
/// The largest page.
const MAX_LIMIT: u64 = 200;

/// GET `/api/messages`.
pub(crate) async fn messages(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let chat_type = match p.opt_str("chat_type")?.as_deref().map(str::trim) {
        None | Some("") => return Err(ApiError::bad("missing `chat_type`")),
        Some("0" | "SINGLE") => 0,
        Some("1" | "GROUP") => 1,
        Some(_) => return Err(ApiError::bad("`chat_type` must be 0 or 1")),
    };
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
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad(format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let conv = if chat_type == 0 {
        if state.engine.storage().user(peer).await?.is_none() {
            return Err(ApiError::NotFound("user not found".into()));
        }
        Conversation::direct(me, peer)
    } else {
        require_member(&state, peer, me).await?;
        Conversation::Group(peer)
    };
    let history = state
        .engine
        .storage()
        .history(conv, me, page, limit as usize)
        .await?;
    let items = history
        .iter()
        .map(|item| {
            let mut msg = item.message.to_msg();
            msg.status = item.status as i32;
            serde_json::to_value(&msg)
        })
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| ApiError::Internal(format!("message to JSON: {e}")))?;
    ok(json!({ "items": items }))
}
