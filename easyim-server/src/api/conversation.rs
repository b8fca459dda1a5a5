//! The conversation list: unread counts, read positions, pinned, muted and hidden.

use axum::extract::State;
use easyim_core::{
    ConversationCursor, ConversationSettings, ConversationSummary, SettingsChange,
    DEFAULT_CONVERSATION_LIMIT,
};
use easyim_proto::Msg;
use serde::Serialize;

use super::error::ApiError;
use super::params::Params;
use super::view::Empty;
use super::{ok, ApiResult, AppState};

/// One entry of `GET /api/conversations`.
#[derive(Debug, Serialize)]
struct ConversationView {
    chat_type: i32,
    peer_id: String,
    name: String,
    avatar: String,
    last_message: Option<Msg>,
    last_seq: u64,
    read_seq: u64,
    unread: u64,
    pinned: bool,
    muted: bool,
    updated_at: i64,
}

impl From<ConversationSummary> for ConversationView {
    fn from(s: ConversationSummary) -> Self {
        ConversationView {
            chat_type: s.conversation.chat_type() as i32,
            peer_id: s.peer.to_string(),
            unread: s.unread(),
            name: s.name,
            avatar: s.avatar,
            last_message: s.last_message.map(|m| m.to_msg()),
            last_seq: s.last_seq,
            read_seq: s.read_seq,
            pinned: s.pinned,
            muted: s.muted,
            updated_at: s.updated_at,
        }
    }
}

/// The data of `GET /api/conversations`.
#[derive(Debug, Serialize)]
struct ConversationsView {
    items: Vec<ConversationView>,
    total_unread: u64,
    cursor: String,
}

/// The data of `POST /api/conversation/read`.
#[derive(Debug, Serialize)]
struct ReadView {
    read_seq: u64,
    unread: u64,
}

/// The data of `POST /api/conversation/settings`.
#[derive(Debug, Serialize)]
struct SettingsView {
    chat_type: i32,
    peer_id: String,
    pinned: bool,
    muted: bool,
}

/// GET `/api/conversations`.
pub(crate) async fn list(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let limit = p.limit(DEFAULT_CONVERSATION_LIMIT)?;
    let cursor = match p.opt_str("cursor")?.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<ConversationCursor>().map_err(|_| {
            ApiError::bad("malformed `cursor`: pass the `cursor` of the previous page as is")
        })?),
    };
    let page = state.im.conversations().list(me, cursor, limit).await?;
    ok(ConversationsView {
        items: page.items.into_iter().map(Into::into).collect(),
        total_unread: page.total_unread,
        cursor: page.next.map(|c| c.to_string()).unwrap_or_default(),
    })
}

/// POST `/api/conversation/read`.
pub(crate) async fn read(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let (chat_type, peer) = (p.chat_type()?, p.id("peer_id")?);
    let conv_seq = p.opt_u64("conv_seq")?;
    let r = state
        .im
        .conversations()
        .read(me, chat_type, peer, conv_seq)
        .await?;
    ok(ReadView {
        read_seq: r.read_seq,
        unread: r.unread(),
    })
}

/// POST `/api/conversation/settings`.
pub(crate) async fn settings(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let (chat_type, peer) = (p.chat_type()?, p.id("peer_id")?);
    let change = SettingsChange {
        pinned: p.opt_bool("pinned")?,
        muted: p.opt_bool("muted")?,
    };
    if change == SettingsChange::default() {
        return Err(ApiError::bad("give `pinned` and/or `muted`"));
    }
    let ConversationSettings { pinned, muted } = state
        .im
        .conversations()
        .settings(me, chat_type, peer, change)
        .await?;
    ok(SettingsView {
        chat_type: chat_type as i32,
        peer_id: peer.to_string(),
        pinned,
        muted,
    })
}

/// POST `/api/conversation/hide`.
pub(crate) async fn hide(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let (chat_type, peer) = (p.chat_type()?, p.id("peer_id")?);
    state.im.conversations().hide(me, chat_type, peer).await?;
    ok(Empty {})
}
