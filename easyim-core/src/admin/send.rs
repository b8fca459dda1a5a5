//! Messages sent by the server API: as any user, or as the system.

use std::collections::BTreeSet;

use easyim_proto::{ChatType, MsgType};

use super::Admin;
use crate::error::{Entity, ImError};
use crate::ids::now_ms;
use crate::limits::MAX_IDS_PER_CALL;
use crate::types::{GroupId, NewMessage, StoreOutcome, StoredMessage, UserId};

/// The user id of the system: the sender of a message the backend sends "as the system". No
/// account has it (account ids are snowflakes, never 0); clients see `from_user_id` `"0"`.
pub const SYSTEM_USER: UserId = 0;
/// Longest message id, in bytes (as on the IM port).
pub const MAX_MESSAGE_ID: usize = 128;
/// Longest content of a message the server API sends, in bytes.
pub const MAX_ADMIN_CONTENT: usize = 64 * 1024;

/// Who a server-API message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The system ([`SYSTEM_USER`]): to users, or to any group (every member gets it).
    System,
    /// An existing user, as if it had sent the message itself (its other connections get it
    /// too).
    User(UserId),
}

impl Sender {
    fn id(self) -> UserId {
        match self {
            Sender::System => SYSTEM_USER,
            Sender::User(u) => u,
        }
    }
}

/// Where a server-API message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// One user (a 1:1 message).
    User(UserId),
    /// Several users: one 1:1 message to each, all with the same id (1 to
    /// [`MAX_IDS_PER_CALL`], repeats ignored).
    Users(Vec<UserId>),
    /// A group, whose member the sender must be (the system may write to any group).
    Group(GroupId),
}

/// A message for [`Admin::send`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdminMessage {
    /// The caller's id for it, 1 to [`MAX_MESSAGE_ID`] bytes: sending the same id again to the
    /// same conversation stores nothing more (the call is idempotent).
    pub id: String,
    /// The sender.
    pub from: Sender,
    /// The recipients.
    pub to: Recipients,
    /// TEXT, IMAGE, VOICE, VIDEO or NOTIFY (EVENT is the protocol's own).
    pub msg_type: MsgType,
    /// The content, 1 to [`MAX_ADMIN_CONTENT`] bytes.
    pub content: String,
}

impl AdminMessage {
    /// A message `id` from `from` to `to`, of `msg_type`, with `content`.
    pub fn new(
        id: impl Into<String>,
        from: Sender,
        to: Recipients,
        msg_type: MsgType,
        content: impl Into<String>,
    ) -> Self {
        AdminMessage {
            id: id.into(),
            from,
            to,
            msg_type,
            content: content.into(),
        }
    }
}

/// What became of a server-API message in one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored now and delivered.
    Stored(StoredMessage),
    /// Stored by an earlier call with the same id: nothing was stored or delivered again.
    Duplicate(StoredMessage),
    /// The recipient user does not exist.
    NoUser,
    /// The group does not exist.
    NoGroup,
    /// The sender is not a member of the group.
    NotMember,
    /// Another sender used this id in this conversation already.
    IdTaken,
}

/// One conversation's outcome of [`Admin::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The recipient user (SINGLE) or group (GROUP).
    pub to: u64,
    /// SINGLE or GROUP.
    pub chat_type: ChatType,
    /// What happened.
    pub outcome: SendOutcome,
}

impl Admin {
    /// Stores and delivers `msg` to each conversation it names, through the same sequencer
    /// and delivery path as a chat message (the next `conv_seq`, pending for offline
    /// recipients, in order on every connection). Unlike a user's own message it is not held
    /// back by blocks, mutes or `DIRECT_MESSAGES`: the backend decides. `Invalid` for a
    /// malformed message, `NotFound(User)` for an unknown sender; otherwise one [`Sent`] per
    /// conversation, in the order given.
    pub async fn send(&self, msg: AdminMessage) -> Result<Vec<Sent>, ImError> {
        check(&msg)?;
        let from = msg.from.id();
        if let Sender::User(user) = msg.from {
            if self.store.user(user).await?.is_none() {
                return Err(ImError::NotFound(Entity::User));
            }
        }
        let targets: Vec<(ChatType, u64)> = match &msg.to {
            Recipients::Group(g) => vec![(ChatType::Group, *g)],
            Recipients::User(u) => vec![(ChatType::Single, *u)],
            Recipients::Users(list) => {
                let mut seen = BTreeSet::new();
                list.iter()
                    .filter(|u| seen.insert(**u))
                    .map(|u| (ChatType::Single, *u))
                    .collect()
            }
        };
        if targets
            .iter()
            .any(|(t, to)| *t == ChatType::Single && *to == from)
        {
            return Err(ImError::invalid("a message to its own sender"));
        }
        let mut out = Vec::with_capacity(targets.len());
        for (chat_type, to) in targets {
            let new = NewMessage {
                id: msg.id.clone(),
                from,
                to,
                chat_type,
                msg_type: msg.msg_type as i32,
                content: msg.content.clone(),
                timestamp: now_ms() as i64,
                ref_id: String::new(),
            };
            let outcome = self.store_and_deliver(new, msg.from).await?;
            out.push(Sent {
                to,
                chat_type,
                outcome,
            });
        }
        tracing::info!(
            id = %msg.id,
            from,
            conversations = out.len(),
            "server API message sent"
        );
        Ok(out)
    }

    async fn store_and_deliver(
        &self,
        new: NewMessage,
        from: Sender,
    ) -> Result<SendOutcome, ImError> {
        let also = match from {
            Sender::User(user) => Some(user),
            Sender::System => None,
        };
        Ok(match self.engine.store_and_deliver(new, also).await? {
            StoreOutcome::Stored { message, .. } => SendOutcome::Stored(message),
            StoreOutcome::Duplicate(m) => SendOutcome::Duplicate(m),
            StoreOutcome::NoUser => SendOutcome::NoUser,
            StoreOutcome::NoGroup => SendOutcome::NoGroup,
            StoreOutcome::NotMember => SendOutcome::NotMember,
            StoreOutcome::IdTaken => SendOutcome::IdTaken,
        })
    }
}

/// The checks that need no storage.
fn check(msg: &AdminMessage) -> Result<(), ImError> {
    if msg.id.is_empty() || msg.id.len() > MAX_MESSAGE_ID || msg.id.chars().any(char::is_control) {
        return Err(ImError::invalid(format!(
            "`id` must be 1 to {MAX_MESSAGE_ID} bytes, without control characters"
        )));
    }
    if msg.content.is_empty() || msg.content.len() > MAX_ADMIN_CONTENT {
        return Err(ImError::invalid(format!(
            "`content` must be 1 to {MAX_ADMIN_CONTENT} bytes"
        )));
    }
    if !matches!(
        msg.msg_type,
        MsgType::Text | MsgType::Image | MsgType::Voice | MsgType::Video | MsgType::Notify
    ) {
        // EVENT is the protocol's own; RECALL, EDIT, TYPING and PRESENCE act on a
        // conversation with their own rules, not as messages the server API sends.
        return Err(ImError::invalid(
            "`msg_type` must be TEXT, IMAGE, VOICE, VIDEO or NOTIFY (0 to 3, or 5)",
        ));
    }
    match &msg.to {
        Recipients::Users(list) if list.is_empty() || list.len() > MAX_IDS_PER_CALL => {
            Err(ImError::invalid(format!(
                "`to_user_ids` must list 1 to {MAX_IDS_PER_CALL} users"
            )))
        }
        _ => Ok(()),
    }
}
