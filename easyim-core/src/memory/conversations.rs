//! [`ConversationStore`] for [`MemoryStorage`], and its read positions
//! ([`crate::MessageStore::record_read`]).

use async_trait::async_trait;

use super::{MemoryStorage, State};
use crate::error::Result;
use crate::read::{ReadAt, ReadOutcome, ReadState};
use crate::storage::ConversationStore;
use crate::summary::{
    peer_of, ConversationCursor, ConversationRows, ConversationSettings, ConversationSummary,
    SettingsChange,
};
use crate::types::{Conversation, UserId};

impl State {
    /// [`crate::MessageStore::record_read`] on the locked state.
    pub(super) fn record_read(
        &mut self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> ReadOutcome {
        let last = self.last_seq(conv);
        let member = match conv {
            Conversation::Direct { low, high } => reader == low || reader == high,
            Conversation::Group(g) => self
                .groups
                .get(&g)
                .is_some_and(|g| g.members.contains(&reader)),
        };
        if !member {
            return ReadOutcome::NoMessage;
        }
        let seq = match at {
            ReadAt::Id(id) => {
                let found = self
                    .conversations
                    .get(&conv)
                    .and_then(|c| c.ids.get(&id).map(|&i| &c.messages[i].message));
                match found {
                    Some(m) if m.from != reader => m.conv_seq,
                    _ => return ReadOutcome::NoMessage,
                }
            }
            ReadAt::Seq(n) if n > last => return ReadOutcome::BeyondLast(last),
            ReadAt::Seq(n) => n,
            ReadAt::Last => last,
        };
        let message = self
            .conversations
            .get(&conv)
            .and_then(|c| c.messages.get((seq as usize).checked_sub(1)?))
            .map(|e| e.message.clone());
        // A 1:1 conversation without messages has no cursors yet: nothing to move.
        if last == 0 {
            return ReadOutcome::Read(ReadState {
                previous: 0,
                read_seq: 0,
                last_seq: 0,
                own_seq: 0,
                message: None,
            });
        }
        let cursor = self
            .cursors
            .entry(reader)
            .or_default()
            .entry(conv)
            .or_default();
        let previous = cursor.read;
        cursor.read = cursor.read.max(seq);
        cursor.arrived = cursor.arrived.max(seq);
        ReadOutcome::Read(ReadState {
            previous,
            read_seq: cursor.read,
            last_seq: last,
            own_seq: cursor.own,
            message,
        })
    }

    /// Every conversation `user` would list, unordered.
    fn summaries(&self, user: UserId) -> Vec<ConversationSummary> {
        let Some(cursors) = self.cursors.get(&user) else {
            return Vec::new();
        };
        cursors
            .iter()
            .filter_map(|(&conv, cur)| {
                let c = self.conversations.get(&conv);
                let last = c.map_or(0, |c| c.messages.len() as u64);
                let visible = cur.hidden.is_none_or(|h| last > h)
                    && (last > 0 || matches!(conv, Conversation::Group(_)));
                if !visible {
                    return None;
                }
                let last_message = c.and_then(|c| c.messages.last()).map(|e| e.message.clone());
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
                            .map(|g| g.name.clone())
                            .unwrap_or_default(),
                        String::new(),
                    ),
                };
                Some(ConversationSummary {
                    conversation: conv,
                    peer,
                    name,
                    avatar,
                    updated_at: last_message.as_ref().map_or(0, |m| m.timestamp),
                    last_message,
                    last_seq: last,
                    read_seq: cur.read,
                    own_seq: cur.own,
                    pinned: cur.pinned,
                    muted: cur.muted,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ConversationStore for MemoryStorage {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows> {
        let all = self.lock().summaries(user);
        let total_unread = all.iter().map(ConversationSummary::counted_unread).sum();
        let mut items: Vec<ConversationSummary> = all
            .into_iter()
            .filter(|s| after.is_none_or(|a| a.is_before(&s.cursor())))
            .collect();
        items.sort_by_key(|s| s.cursor().key());
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
        let mut st = self.lock();
        let Some(cur) = st.cursors.get_mut(&user).and_then(|cs| cs.get_mut(&conv)) else {
            return Ok(None);
        };
        if let Some(p) = change.pinned {
            cur.pinned = p;
        }
        if let Some(m) = change.muted {
            cur.muted = m;
        }
        Ok(Some(ConversationSettings {
            pinned: cur.pinned,
            muted: cur.muted,
        }))
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool> {
        let mut st = self.lock();
        let last = st.last_seq(conv);
        let Some(cur) = st.cursors.get_mut(&user).and_then(|cs| cs.get_mut(&conv)) else {
            return Ok(false);
        };
        cur.hidden = Some(last);
        Ok(true)
    }
}
