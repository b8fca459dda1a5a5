//! [`ConversationStore`]: each user's list of conversations, and its settings in each.

use async_trait::async_trait;

use crate::error::Result;
use crate::summary::{ConversationCursor, ConversationRows, ConversationSettings, SettingsChange};
use crate::types::{Conversation, UserId};

/// Where each user's conversation list is read from, and its per-conversation settings kept.
///
/// A user's conversations are the 1:1 conversations it has at least one message in (either
/// way) and the groups it is a member of. The counts come from what storage keeps anyway: the
/// conversation's last `conv_seq`, and per user and conversation the read position
/// (`read_seq`, moved by [`crate::MessageStore::record_read`]) and the `conv_seq` of the user's
/// own newest message (`own_seq`, kept up to date by the same commit that stores the message).
/// Storing a message must stay one row plus O(1) work whatever the size of the group: never a
/// row per member.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// One page of `user`'s conversations, in the order [`ConversationCursor`] describes: those
    /// strictly after `after` (all from the first one if `None`), at most `limit`; and the
    /// total of [`crate::ConversationSummary::counted_unread`] over all of the user's listed
    /// conversations, in the same read (one query or round trip). A hidden conversation (see
    /// [`ConversationStore::hide_conversation`]) is left out of both until a newer message
    /// arrives in it.
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows>;

    /// Changes `user`'s settings in `conv` and returns them as they are now; `None` (nothing
    /// changed) if `conv` is not one of the user's conversations (a group it is not in, a 1:1
    /// conversation without messages). Settings stay until the user leaves the group.
    async fn set_conversation_settings(
        &self,
        user: UserId,
        conv: Conversation,
        change: SettingsChange,
    ) -> Result<Option<ConversationSettings>>;

    /// Leaves `conv` out of `user`'s list until a message newer than its current last one is
    /// stored in it. Deletes nothing. `false` if `conv` is not one of the user's conversations.
    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool>;
}
