//! The records of a user's conversation list: [`ConversationSummary`] (one entry),
//! [`ConversationCursor`] (where a page ends), [`ConversationRows`], [`ConversationPage`] and
//! [`ConversationSettings`].

use std::cmp::Reverse;
use std::fmt;
use std::str::FromStr;

use easyim_proto::ChatType;

use crate::types::{Conversation, StoredMessage, UserId};

/// One conversation as one of its users sees it in the list: its last message and that user's
/// positions and settings in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// The other user (SINGLE) or the group (GROUP), from the listing user's side.
    pub peer: u64,
    /// The peer's nickname or the group's name (empty if it is gone).
    pub name: String,
    /// The peer's avatar (empty for a group).
    pub avatar: String,
    /// The newest message, `None` while there is none.
    pub last_message: Option<StoredMessage>,
    /// The conversation's last `conv_seq` (0 without messages).
    pub last_seq: u64,
    /// The user's read position: moved forward only, by READ receipts; a group member's
    /// starts at the `conv_seq` of the group when it joined.
    pub read_seq: u64,
    /// The `conv_seq` of the user's own newest message in it (0 if none): sending marks
    /// everything before it as read for the sender.
    pub own_seq: u64,
    /// Listed before the conversations that are not.
    pub pinned: bool,
    /// Do not disturb: still delivered, not counted in the total of unread messages.
    pub muted: bool,
    /// The time of the last message, in ms since the Unix epoch (0 without messages).
    pub updated_at: i64,
}

impl ConversationSummary {
    /// The messages the user has not read: `last_seq - max(read_seq, own_seq)`, never below 0.
    pub fn unread(&self) -> u64 {
        self.last_seq
            .saturating_sub(self.read_seq.max(self.own_seq))
    }

    /// The cursor that a page ending with this entry hands on.
    pub fn cursor(&self) -> ConversationCursor {
        ConversationCursor {
            pinned: self.pinned,
            updated_at: self.updated_at,
            chat_type: self.conversation.chat_type(),
            peer: self.peer,
        }
    }

    /// The unread count that goes into the total: none for a muted conversation.
    pub fn counted_unread(&self) -> u64 {
        if self.muted {
            0
        } else {
            self.unread()
        }
    }
}

/// A place in the list order: pinned first, then by `updated_at` newest first, then by chat
/// type (SINGLE before GROUP) and peer id ascending, which makes every place unique.
///
/// A page holds the entries strictly after its cursor, so paging is stable while messages
/// arrive: a conversation that moves to the top after its page was read is not seen again
/// (the next first page shows it), and none of the others is skipped or repeated. Its text form
/// (`<pinned 0|1>.<updated_at>.<chat_type>.<peer>`) is what clients hand back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationCursor {
    /// Whether the last entry was pinned.
    pub pinned: bool,
    /// Its `updated_at`.
    pub updated_at: i64,
    /// Its chat type.
    pub chat_type: ChatType,
    /// Its peer.
    pub peer: u64,
}

/// The total order key of a place in the list; smaller comes first.
pub(crate) type OrderKey = (Reverse<bool>, Reverse<i64>, i32, u64);

impl ConversationCursor {
    /// The sort key: smaller lists first.
    pub(crate) fn key(&self) -> OrderKey {
        (
            Reverse(self.pinned),
            Reverse(self.updated_at),
            self.chat_type as i32,
            self.peer,
        )
    }

    /// Whether an entry at `other` lists after this place.
    pub fn is_before(&self, other: &ConversationCursor) -> bool {
        self.key() < other.key()
    }
}

impl fmt::Display for ConversationCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            u8::from(self.pinned),
            self.updated_at,
            self.chat_type as i32,
            self.peer
        )
    }
}

impl FromStr for ConversationCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a conversation cursor: {s:?}");
        let mut parts = s.split('.');
        let (Some(p), Some(t), Some(c), Some(peer), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let pinned = match p {
            "0" => false,
            "1" => true,
            _ => return Err(bad()),
        };
        let chat_type = match c {
            "0" => ChatType::Single,
            "1" => ChatType::Group,
            _ => return Err(bad()),
        };
        Ok(ConversationCursor {
            pinned,
            updated_at: t.parse().map_err(|_| bad())?,
            chat_type,
            peer: peer.parse().map_err(|_| bad())?,
        })
    }
}

/// What storage reads for one page: the entries and the total of unread messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationRows {
    /// The entries, in list order.
    pub items: Vec<ConversationSummary>,
    /// As [`ConversationPage::total_unread`].
    pub total_unread: u64,
}

/// One page of a user's conversations, with the total of unread messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationPage {
    /// The entries, in list order.
    pub items: Vec<ConversationSummary>,
    /// The sum of [`ConversationSummary::unread`] over all the user's listed conversations
    /// (every page, not only this one) that are not muted.
    pub total_unread: u64,
    /// Where the next page starts, `None` when this one is the last.
    pub next: Option<ConversationCursor>,
}

/// A user's settings in one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationSettings {
    /// Listed first.
    pub pinned: bool,
    /// Not counted in the total of unread messages (and marked so for push hooks).
    pub muted: bool,
}

/// A change of [`ConversationSettings`]: `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// The new `pinned`, if it changes.
    pub pinned: Option<bool>,
    /// The new `muted`, if it changes.
    pub muted: Option<bool>,
}

/// The peer of `conv` seen from `user`: the other user, or the group.
pub fn peer_of(conv: Conversation, user: UserId) -> u64 {
    match conv {
        Conversation::Direct { low, high } => {
            if low == user {
                high
            } else {
                low
            }
        }
        Conversation::Group(g) => g,
    }
}
