//! [`Conversations`]: a user's conversation list with unread counts, its read positions and
//! its settings (pinned, muted, hidden) in each conversation.

use std::sync::Arc;

use easyim_proto::ChatType;
use tracing::instrument;

use crate::engine::Engine;
use crate::error::{Entity, ImError};
use crate::groups::Groups;
use crate::hidden::visible_lasts;
use crate::limits::checked_limit;
use crate::read::{mark_read, ReadAt, ReadOutcome, ReadState};
use crate::storage::{AccountStore, ConversationStore};
use crate::summary::{ConversationCursor, ConversationPage, ConversationSettings, SettingsChange};
use crate::types::{Conversation, UserId};

/// The page size when none is asked for.
pub const DEFAULT_CONVERSATION_LIMIT: usize = 50;
/// The largest page.
pub const MAX_CONVERSATION_LIMIT: usize = 200;

/// Each user's conversations. Cheap to clone.
///
/// The unread count of a conversation is `last_seq - max(read_seq, own_seq)`, where a group
/// member's `read_seq` starts where the group was when it joined: a user's own messages never
/// count, sending marks everything before as read, and a late joiner does not count what came
/// before it. `total_unread` adds the conversations that are not muted.
#[derive(Clone)]
pub struct Conversations {
    store: Arc<dyn ConversationStore>,
    accounts: Arc<dyn AccountStore>,
    groups: Groups,
    engine: Engine,
}

impl std::fmt::Debug for Conversations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversations").finish_non_exhaustive()
    }
}

impl Conversations {
    pub(crate) fn new(
        store: Arc<dyn ConversationStore>,
        accounts: Arc<dyn AccountStore>,
        groups: Groups,
        engine: Engine,
    ) -> Self {
        Conversations {
            store,
            accounts,
            groups,
            engine,
        }
    }

    /// One page of `me`'s conversations (pinned first, then the latest activity first), at
    /// most `limit` (1 to [`MAX_CONVERSATION_LIMIT`]), after `cursor` (the `next` of the
    /// previous page); with the total of unread messages over every conversation not muted.
    /// `Invalid` for a limit out of range.
    #[instrument(skip(self))]
    pub async fn list(
        &self,
        me: UserId,
        cursor: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationPage, ImError> {
        let limit = checked_limit(limit, MAX_CONVERSATION_LIMIT)?;
        // One more than asked only tells whether a next page exists.
        let mut rows = self.store.conversations(me, cursor, limit + 1).await?;
        let more = rows.items.len() > limit;
        rows.items.truncate(limit);
        // Delete for me: a preview `me` removed gives way to the newest message it kept.
        visible_lasts(&**self.engine.messages(), me, &mut rows.items).await?;
        let next = if more {
            rows.items.last().map(|s| s.cursor())
        } else {
            None
        };
        Ok(ConversationPage {
            items: rows.items,
            total_unread: rows.total_unread,
            next,
        })
    }

    /// The total of unread messages over `me`'s conversations that are not muted (the app
    /// icon's badge).
    pub async fn total_unread(&self, me: UserId) -> Result<u64, ImError> {
        Ok(self.store.conversations(me, None, 1).await?.total_unread)
    }

    /// Moves `me`'s read position in its conversation with `peer` to `conv_seq` (the last
    /// message if `None`), never back, with the effect of a READ receipt: forwarded to the
    /// sender of the message read, synced to every connection of `me`. `NotFound(User)` /
    /// `NotFound(Group)` for an unknown peer, `Forbidden` for a group `me` is not in,
    /// `Invalid` for a `conv_seq` above the conversation's last.
    #[instrument(skip(self))]
    pub async fn read(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
        conv_seq: Option<u64>,
    ) -> Result<ReadState, ImError> {
        let conv = self.conversation(me, chat_type, peer).await?;
        let at = conv_seq.map_or(ReadAt::Last, ReadAt::Seq);
        match mark_read(self.engine.node(), me, conv, at, None).await? {
            ReadOutcome::Read(state) => Ok(state),
            ReadOutcome::NoMessage => Err(ImError::Forbidden("not in this conversation")),
            ReadOutcome::BeyondLast(last) => Err(ImError::invalid(format!(
                "`conv_seq` is above the conversation's last ({last})"
            ))),
        }
    }

    /// Changes `me`'s settings in its conversation with `peer`; returns them. Errors as
    /// [`Conversations::read`], and `NotFound(Conversation)` for a 1:1 conversation without
    /// messages.
    #[instrument(skip(self))]
    pub async fn settings(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
        change: SettingsChange,
    ) -> Result<ConversationSettings, ImError> {
        let conv = self.conversation(me, chat_type, peer).await?;
        self.store
            .set_conversation_settings(me, conv, change)
            .await?
            .ok_or(ImError::NotFound(Entity::Conversation))
    }

    /// Hides `me`'s conversation with `peer` from its list until a newer message arrives in
    /// it; deletes nothing. Errors as [`Conversations::settings`].
    #[instrument(skip(self))]
    pub async fn hide(&self, me: UserId, chat_type: ChatType, peer: u64) -> Result<(), ImError> {
        let conv = self.conversation(me, chat_type, peer).await?;
        if self.store.hide_conversation(me, conv).await? {
            Ok(())
        } else {
            Err(ImError::NotFound(Entity::Conversation))
        }
    }

    /// The conversation of `me` with `peer`, checking that the peer exists and, for a group,
    /// that `me` is a member.
    async fn conversation(
        &self,
        me: UserId,
        chat_type: ChatType,
        peer: u64,
    ) -> Result<Conversation, ImError> {
        match chat_type {
            ChatType::Single => {
                if self.accounts.user(peer).await?.is_none() {
                    return Err(ImError::NotFound(Entity::User));
                }
                Ok(Conversation::direct(me, peer))
            }
            ChatType::Group => {
                self.groups.require_member(peer, me).await?;
                Ok(Conversation::Group(peer))
            }
        }
    }
}
