//! [`History`]: a conversation's stored messages, page by page, for those who may read them.

use std::sync::Arc;

use easyim_proto::ChatType;

use crate::error::{Entity, ImError};
use crate::groups::Groups;
use crate::hidden::visible_page;
use crate::roles::HistoryVisible;
use crate::storage::{AccountStore, MessageStore};
use crate::types::{Conversation, HistoryItem, HistoryPage, UserId};

/// The page size when none is asked for.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;
/// The largest page.
pub const MAX_HISTORY_LIMIT: usize = 200;
/// The most message ids one delete-for-me names.
pub const MAX_DELETE_IDS: usize = 200;

/// Reading history, with its access rules: a 1:1 conversation by either of its users, a group's
/// by its members (under `history_visible: joined`, from their join on). Cheap to clone.
#[derive(Clone)]
pub struct History {
    messages: Arc<dyn MessageStore>,
    accounts: Arc<dyn AccountStore>,
    groups: Groups,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").finish_non_exhaustive()
    }
}

impl History {
    pub(crate) fn new(
        messages: Arc<dyn MessageStore>,
        accounts: Arc<dyn AccountStore>,
        groups: Groups,
    ) -> Self {
        History {
            messages,
            accounts,
            groups,
        }
    }

    /// A page of `me`'s conversation with `peer` (a user for SINGLE, a group for GROUP), at
    /// most `limit` (1 to [`MAX_HISTORY_LIMIT`]) messages, ordered as [`HistoryPage`] says; each
    /// with the furthest receipt its recipient sent. `Invalid` for a limit out of range,
    /// `NotFound(User)` / `NotFound(Group)`, `Forbidden` for a group `me` is not in.
    pub async fn page(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>, ImError> {
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            return Err(ImError::invalid(format!(
                "`limit` must be an integer from 1 to {MAX_HISTORY_LIMIT}"
            )));
        }
        let (conv, joined) = self.readable(me, chat_type, peer).await?;
        Ok(visible_page(&*self.messages, me, conv, page, limit, joined).await?)
    }

    /// Removes the messages `ids` (1 to [`MAX_DELETE_IDS`]) of `me`'s conversation with `peer`
    /// from `me`'s own history and conversation preview; the other members keep them. Unknown
    /// ids are ignored; returns how many were removed. Errors as [`History::page`], and
    /// `Invalid` for no ids, too many, or one longer than 128 bytes.
    pub async fn delete_for_me(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
        ids: &[String],
    ) -> Result<u64, ImError> {
        if ids.is_empty() || ids.len() > MAX_DELETE_IDS {
            return Err(ImError::invalid(format!(
                "`ids` must hold 1 to {MAX_DELETE_IDS} message ids"
            )));
        }
        if ids.iter().any(|id| id.is_empty() || id.len() > 128) {
            return Err(ImError::invalid(
                "each of `ids` must be 1 to 128 bytes long",
            ));
        }
        let (conv, _) = self.readable(me, chat_type, peer).await?;
        Ok(self.messages.hide_messages(me, conv, ids).await?)
    }

    /// The conversation of `me` with `peer` if `me` may read it, with the position its
    /// history starts after (a member's join position under [`HistoryVisible::Joined`]; else
    /// 0).
    async fn readable(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
    ) -> Result<(Conversation, u64), ImError> {
        match chat_type {
            ChatType::Single => {
                if self.accounts.user(peer).await?.is_none() {
                    return Err(ImError::NotFound(Entity::User));
                }
                Ok((Conversation::direct(me, peer), 0))
            }
            ChatType::Group => {
                let state = self.groups.standing(peer, me).await?;
                let joined = if state.history_visible == HistoryVisible::Joined {
                    state.joined_seq
                } else {
                    0
                };
                Ok((Conversation::Group(peer), joined))
            }
        }
    }
}
