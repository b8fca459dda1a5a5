//! `ConversationStore` for [`TableStorage`], and its read positions: the table
//! `conversations (user, conversation) -> (own_seq, pinned, muted, hidden_seq)`, one row per
//! user and conversation, written when a 1:1 conversation gets its first message or a user
//! joins a group, never per message and member.

use async_trait::async_trait;
use easyim_core::{
    peer_of, Conversation, ConversationCursor, ConversationRows, ConversationSettings,
    ConversationStore, ConversationSummary, ReadAt, ReadOutcome, ReadState, Result, SettingsChange,
    UserId,
};

use super::{TableStorage, Tables};

/// A user's row in one of its conversations.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ConvRow {
    /// The `conv_seq` of the user's own newest message.
    own_seq: u64,
    pinned: bool,
    muted: bool,
    /// Hidden while the conversation's last `conv_seq` is at most this.
    hidden_seq: Option<u64>,
}

impl Tables {
    fn last_seq(&self, conv: Conversation) -> u64 {
        self.by_conv.get(&conv).map_or(0, |o| o.len() as u64)
    }

    /// A user takes part in `conv` from now on (its first 1:1 message, a group joined): its row,
    /// and a read position at the conversation's current end so that nothing older counts.
    pub(super) fn join_conversation(&mut self, user: UserId, conv: Conversation) {
        let last = self.last_seq(conv);
        self.conversations.entry((user, conv)).or_default();
        let cursor = self.receipts.entry((user, conv)).or_default();
        cursor.0 = cursor.0.max(last);
        cursor.1 = cursor.1.max(last);
    }

    /// `UPDATE conversations SET own_seq = ?`: a message of `user` was stored at `seq`.
    pub(super) fn sent(&mut self, user: UserId, conv: Conversation, seq: u64) {
        if let Some(row) = self.conversations.get_mut(&(user, conv)) {
            row.own_seq = seq;
        }
    }

    /// `MessageStore::record_read`.
    pub(super) fn record_read(
        &mut self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> ReadOutcome {
        let member = match conv {
            Conversation::Direct { low, high } => reader == low || reader == high,
            Conversation::Group(g) => self.members.contains(&(g, reader)),
        };
        if !member {
            return ReadOutcome::NoMessage;
        }
        let last = self.last_seq(conv);
        let seq = match at {
            ReadAt::Id(id) => match self.by_id.get(&(conv, id)) {
                Some(&order) if self.message(order).from != reader => self.message(order).conv_seq,
                _ => return ReadOutcome::NoMessage,
            },
            ReadAt::Seq(n) if n > last => return ReadOutcome::BeyondLast(last),
            ReadAt::Seq(n) => n,
            ReadAt::Last => last,
        };
        let message = self
            .by_conv
            .get(&conv)
            .and_then(|o| o.get((seq as usize).checked_sub(1)?))
            .map(|&order| self.message(order).clone());
        let own_seq = self
            .conversations
            .get(&(reader, conv))
            .map_or(0, |r| r.own_seq);
        let cursor = self.receipts.entry((reader, conv)).or_default();
        let previous = cursor.1;
        cursor.0 = cursor.0.max(seq);
        cursor.1 = cursor.1.max(seq);
        let read_seq = cursor.1;
        self.drop_pending(reader, |m| m.conversation() == conv && m.conv_seq <= seq);
        ReadOutcome::Read(ReadState {
            previous,
            read_seq,
            last_seq: last,
            own_seq,
            message,
        })
    }

    fn summary(&self, user: UserId, conv: Conversation, row: &ConvRow) -> ConversationSummary {
        let last_seq = self.last_seq(conv);
        let last_message = self
            .by_conv
            .get(&conv)
            .and_then(|o| o.last())
            .map(|&order| self.message(order).clone());
        let peer = peer_of(conv, user);
        let (name, avatar) = match conv {
            Conversation::Direct { .. } => self
                .users
                .get(&peer)
                .map(|u| (u.nickname.clone(), u.avatar.clone()))
                .unwrap_or_default(),
            Conversation::Group(g) => (
                self.groups
                    .get(&g)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default(),
                String::new(),
            ),
        };
        ConversationSummary {
            conversation: conv,
            peer,
            name,
            avatar,
            updated_at: last_message.as_ref().map_or(0, |m| m.timestamp),
            last_message,
            last_seq,
            read_seq: self.receipts.get(&(user, conv)).map_or(0, |r| r.1),
            own_seq: row.own_seq,
            pinned: row.pinned,
            muted: row.muted,
        }
    }
}

#[async_trait]
impl ConversationStore for TableStorage {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows> {
        let db = self.db();
        // `SELECT ... FROM conversations WHERE user = ?` (a scan here: no index by user).
        let listed: Vec<ConversationSummary> = db
            .conversations
            .iter()
            .filter(|((u, _), _)| *u == user)
            .map(|(&(_, conv), row)| db.summary(user, conv, row))
            .filter(|s| {
                let hidden = db.conversations[&(user, s.conversation)].hidden_seq;
                hidden.is_none_or(|h| s.last_seq > h)
            })
            .collect();
        let total_unread = listed.iter().map(ConversationSummary::counted_unread).sum();
        let mut items: Vec<ConversationSummary> = listed
            .into_iter()
            .filter(|s| after.is_none_or(|a| a.is_before(&s.cursor())))
            .collect();
        items.sort_by(|x, y| {
            if x.cursor().is_before(&y.cursor()) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        items.truncate(limit);
        Ok(ConversationRows {
            items,
            total_unread,
        })
    }

    async fn set_conversation_settings(
        &self,
        user: UserId,
        conv: Conversation,
        change: SettingsChange,
    ) -> Result<Option<ConversationSettings>> {
        let mut db = self.db();
        let Some(row) = db.conversations.get_mut(&(user, conv)) else {
            return Ok(None);
        };
        row.pinned = change.pinned.unwrap_or(row.pinned);
        row.muted = change.muted.unwrap_or(row.muted);
        Ok(Some(ConversationSettings {
            pinned: row.pinned,
            muted: row.muted,
        }))
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool> {
        let mut db = self.db();
        let last = db.last_seq(conv);
        let Some(row) = db.conversations.get_mut(&(user, conv)) else {
            return Ok(false);
        };
        row.hidden_seq = Some(last);
        Ok(true)
    }
}
