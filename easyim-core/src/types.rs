//! The records the core and its `Storage` exchange.

use std::fmt;
use std::str::FromStr;

use easyim_proto::{ChatType, Msg, MsgStatus};

/// A user id: a snowflake, shown to clients as a decimal string.
pub type UserId = u64;
/// A group id: a snowflake, shown to clients as a decimal string.
pub type GroupId = u64;

/// A conversation: the pair of users of a 1:1 chat, or a group. Every stored message belongs to
/// exactly one, and `conv_seq` numbers the messages of each conversation 1, 2, 3...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Conversation {
    /// The 1:1 conversation of two users; `low < high` always (the same for both directions).
    Direct {
        /// The smaller user id.
        low: UserId,
        /// The larger user id.
        high: UserId,
    },
    /// A group's conversation.
    Group(GroupId),
}

impl Conversation {
    /// The 1:1 conversation of `a` and `b`, in either order.
    pub fn direct(a: UserId, b: UserId) -> Self {
        Conversation::Direct {
            low: a.min(b),
            high: a.max(b),
        }
    }

    /// The conversation a message from `from` to `to` of `chat_type` belongs to.
    pub fn of(chat_type: ChatType, from: UserId, to: u64) -> Self {
        match chat_type {
            ChatType::Single => Conversation::direct(from, to),
            ChatType::Group => Conversation::Group(to),
        }
    }

    /// The chat type of the conversation.
    pub fn chat_type(&self) -> ChatType {
        match self {
            Conversation::Direct { .. } => ChatType::Single,
            Conversation::Group(_) => ChatType::Group,
        }
    }

    /// A stable text key (`d:<low>:<high>` or `g:<group>`), for storages that want one column.
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conversation::Direct { low, high } => write!(f, "d:{low}:{high}"),
            Conversation::Group(g) => write!(f, "g:{g}"),
        }
    }
}

impl FromStr for Conversation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a conversation key: {s:?}");
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("d"), Some(a), Some(b), None) => Ok(Conversation::direct(
                a.parse().map_err(|_| bad())?,
                b.parse().map_err(|_| bad())?,
            )),
            (Some("g"), Some(g), None, None) => {
                Ok(Conversation::Group(g.parse().map_err(|_| bad())?))
            }
            _ => Err(bad()),
        }
    }
}

/// An account as storage keeps it. Never sent to clients as is: see [`Profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The login name, unique.
    pub account: String,
    /// The display name.
    pub nickname: String,
    /// An avatar URL, possibly empty.
    pub avatar: String,
    /// The argon2id PHC string of the password.
    pub password_hash: String,
    /// The per-user token secret; rotating it revokes every token of the user.
    pub secret: String,
}

impl User {
    /// What other users may see of this account.
    pub fn profile(&self) -> Profile {
        Profile {
            id: self.id,
            account: self.account.clone(),
            nickname: self.nickname.clone(),
            avatar: self.avatar.clone(),
        }
    }
}

/// The public part of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The user's id.
    pub id: UserId,
    /// The login name.
    pub account: String,
    /// The display name.
    pub nickname: String,
    /// An avatar URL, possibly empty.
    pub avatar: String,
}

/// The state of a friend request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for an answer (0 on the wire).
    Open = 0,
    /// Accepted: both users list each other (1).
    Accepted = 1,
    /// Refused (2).
    Refused = 2,
}

impl RequestStatus {
    /// From the stored number; unknown numbers read as `Open`.
    pub fn from_i64(n: i64) -> Self {
        match n {
            1 => RequestStatus::Accepted,
            2 => RequestStatus::Refused,
            _ => RequestStatus::Open,
        }
    }
}

/// A friend request from one user to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequest {
    /// The request's id.
    pub id: u64,
    /// Who asked.
    pub from: UserId,
    /// Who is asked.
    pub to: UserId,
    /// The optional message that came with it.
    pub msg: String,
    /// Its state.
    pub status: RequestStatus,
}

/// A group, with its current member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// Its name.
    pub name: String,
    /// The user who created it.
    pub owner: UserId,
    /// How many members it has now.
    pub member_count: u64,
}

/// A chat message to store. The engine has checked its form already; storage checks what needs
/// the database (recipient, membership, idempotency) in the same atomic step that stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The message id: the client's, or a snowflake the engine assigned. Never empty.
    pub id: String,
    /// The sender.
    pub from: UserId,
    /// The recipient user (SINGLE) or group (GROUP).
    pub to: u64,
    /// SINGLE or GROUP.
    pub chat_type: ChatType,
    /// TEXT, IMAGE, VOICE or VIDEO, or RECALL or EDIT, as its wire number.
    pub msg_type: i32,
    /// The content (the new text of an EDIT, empty for a RECALL).
    pub content: String,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The id of the message a RECALL or EDIT acts on, or the one a message replies to;
    /// empty if none. Storage applies a RECALL or EDIT to that message of the same
    /// conversation in the same commit (the engine has checked it may).
    pub ref_id: String,
}

impl NewMessage {
    /// The conversation the message belongs to.
    pub fn conversation(&self) -> Conversation {
        Conversation::of(self.chat_type, self.from, self.to)
    }
}

/// A message as stored, with its place in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id, unique within the conversation.
    pub id: String,
    /// Its position in the conversation: 1, 2, 3... with no gaps.
    pub conv_seq: u64,
    /// The sender.
    pub from: UserId,
    /// The recipient user (SINGLE) or group (GROUP).
    pub to: u64,
    /// SINGLE or GROUP.
    pub chat_type: ChatType,
    /// The message type's wire number.
    pub msg_type: i32,
    /// The content: the latest, after edits; empty once recalled.
    pub content: String,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The message it acts on or replies to (see [`NewMessage::ref_id`]); empty if none.
    pub ref_id: String,
    /// Whether a RECALL took it back.
    pub recalled: bool,
    /// When an EDIT last changed it (the EDIT's `timestamp`), 0 if never.
    pub edited_at: i64,
}

impl StoredMessage {
    /// The conversation the message belongs to.
    pub fn conversation(&self) -> Conversation {
        Conversation::of(self.chat_type, self.from, self.to)
    }

    /// The message as delivered: `status = SENT`, with `timestamp` and `conv_seq`.
    pub fn to_msg(&self) -> Msg {
        Msg {
            id: self.id.clone(),
            seq: 0,
            from_user_id: self.from.to_string(),
            to_user_id: self.to.to_string(),
            chat_type: self.chat_type as i32,
            msg_type: self.msg_type,
            status: MsgStatus::Sent as i32,
            content: self.content.clone(),
            access_token: String::new(),
            timestamp: self.timestamp,
            conv_seq: self.conv_seq,
            ref_id: self.ref_id.clone(),
            edited_at: self.edited_at,
            recalled: self.recalled,
        }
    }
}

/// What [`crate::Storage::store_message`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored now, with its `conv_seq`; pending for `recipients` (the peer of a 1:1 message,
    /// or every member of the group but the sender, at the time of the commit).
    Stored {
        /// The message as stored.
        message: StoredMessage,
        /// The users it is for.
        recipients: Vec<UserId>,
    },
    /// The same sender already stored a message with this id in this conversation: nothing was
    /// written, and this is the message stored then.
    Duplicate(StoredMessage),
    /// SINGLE: the recipient user does not exist.
    NoUser,
    /// GROUP: the group does not exist.
    NoGroup,
    /// GROUP: the sender is not a member.
    NotMember,
    /// Another sender already used this id in this conversation.
    IdTaken,
}

/// A receipt's kind (protocol.md section 4). `Read` implies `Arrived`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Receipt {
    /// The recipient's device has the message.
    Arrived,
    /// The recipient's user has seen the message.
    Read,
}

impl Receipt {
    /// The wire status of the receipt.
    pub fn status(self) -> MsgStatus {
        match self {
            Receipt::Arrived => MsgStatus::Arrived,
            Receipt::Read => MsgStatus::Read,
        }
    }
}

/// A message still pending for a user, with its place in the user's pending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// A key that increases along the pending list (commit order suits); pass the last one
    /// seen as `after` to get the next page.
    pub order: u64,
    /// The message.
    pub message: StoredMessage,
}

/// Which page of a conversation's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The newest messages, newest first.
    Latest,
    /// The newest messages with `conv_seq` below this, newest first.
    Before(u64),
    /// The oldest messages with `conv_seq` above this, oldest first.
    After(u64),
}

/// A message in a history page, with how far its recipient has got with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The message.
    pub message: StoredMessage,
    /// 1:1: the furthest receipt its recipient sent for it (SENT if none); groups: SENT.
    pub status: MsgStatus,
}

/// Which page of a list to read (keyset pagination: one indexed range read per page, however
/// deep the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The key (user, group or request id) of the last item of the previous page; `None` for
    /// the first page. The page holds the items that follow it in the list's order: ids above
    /// it in a list by id, ids below it in a newest-first list.
    pub after: Option<u64>,
    /// The most items to return.
    pub limit: usize,
}

impl Page {
    /// The first `limit` items.
    pub fn first(limit: usize) -> Self {
        Page { after: None, limit }
    }

    /// At most `limit` items, following `after` (none: from the start).
    pub fn new(after: Option<u64>, limit: usize) -> Self {
        Page { after, limit }
    }
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// The `after` of the next page; `None` when this page is the last.
    pub next: Option<u64>,
}

impl<T> Paged<T> {
    /// The page of `limit` items out of `rows`, read with a limit of `limit + 1`: the extra row
    /// only tells that there is a next page (so the last page never ends in an empty one).
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> u64) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(key) } else { None };
        Paged { items: rows, next }
    }
}

/// The caps a membership change must stay within. Storage checks them in the same atomic step
/// as the change, so that concurrent joins cannot overshoot them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCaps {
    /// The most members a group may have.
    pub max_members: u64,
    /// The most groups one user may belong to.
    pub max_groups_per_user: u64,
}

impl GroupCaps {
    /// No caps at all: for seeding and tests.
    pub const UNLIMITED: GroupCaps = GroupCaps {
        max_members: u64::MAX,
        max_groups_per_user: u64::MAX,
    };
}

/// A device a user registered for push notifications (`POST /api/user/device`). easyim sends
/// no push itself: it keeps the tokens so that the backend it reports to can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The push service: `apns`, `fcm`, `web` or any other name the backend understands.
    pub platform: String,
    /// The push service's token for the device; one device is one token.
    pub token: String,
    /// When it was registered or last registered again, in ms since the Unix epoch.
    pub updated_at: i64,
}
