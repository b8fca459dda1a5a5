//! [`History`]: a conversation's stored messages, page by page, for those who may read them.

use std::sync::Arc;

use easyim_proto::ChatType;

use crate::error::{Entity, ImError};
use crate::groups::Groups;
use crate::roles::HistoryVisible;
use crate::storage::{AccountStore, MessageStore};
use crate::types::{Conversation, HistoryItem, HistoryPage, UserId};

/// The page size when none is asked for.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;
/// The largest page.
pub const MAX_HISTORY_LIMIT: usize = 200;

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
        let conv = match chat_type {
            ChatType::Single => {
                if self.accounts.user(peer).await?.is_none() {
                    return Err(ImError::NotFound(Entity::User));
                }
                Conversation::direct(me, peer)
            }
            ChatType::Group => {
                let state = self.groups.standing(peer, me).await?;
                if state.history_visible == HistoryVisible::Joined && state.joined_seq > 0 {
                    return self
                        .since(Conversation::Group(peer), state.joined_seq, page, limit)
                        .await;
                }
                Conversation::Group(peer)
            }
        };
        Ok(self.messages.history(conv, page, limit).await?)
    }

    /// A page of `conv` that shows nothing at or before `joined` (a member's join position
    /// under [`HistoryVisible::Joined`]): a page after a position starts after `joined` too,
    /// and the other pages stop at it.
    async fn since(
        &self,
        conv: Conversation,
        joined: u64,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>, ImError> {
        let page = match page {
            HistoryPage::After(n) => HistoryPage::After(n.max(joined)),
            other => other,
        };
        let mut items = self.messages.history(conv, page, limit).await?;
        items.retain(|i| i.message.conv_seq > joined);
        Ok(items)
    }
}
