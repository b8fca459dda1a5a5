//! The `data` of each kind of event, as JSON text. Every storage writes it through these
//! functions (PostgreSQL builds the same document in SQL; the storage kit compares them).

use easyim_proto::ChatType;
use serde_json::json;

use super::{EventKind, NewEvent};
use crate::types::{StoredMessage, UserId};

/// `message.created`: `message` as stored, its `conversation` key and its `recipients` (every
/// member but the sender for a group), ids as decimal strings. Keyed by the conversation.
pub fn message_created(message: &StoredMessage, recipients: &[UserId]) -> NewEvent {
    let conv = message.conversation().key();
    let data = json!({
        "conversation": conv,
        "message": {
            "id": message.id,
            "conv_seq": message.conv_seq,
            "from_user_id": message.from.to_string(),
            "to_id": message.to.to_string(),
            "chat_type": match message.chat_type {
                ChatType::Single => "single",
                ChatType::Group => "group",
            },
            "msg_type": message.msg_type,
            "content": message.content,
            "timestamp": message.timestamp,
            "ref_id": message.ref_id,
        },
        "recipients": recipients.iter().map(u64::to_string).collect::<Vec<_>>(),
    });
    NewEvent {
        kind: EventKind::of_message(message.msg_type),
        key: conv,
        data: data.to_string(),
        created_ms: message.timestamp,
    }
}

/// `user.registered`: the new account's `user_id`, `account` and `nickname`. Keyed by the
/// user.
pub fn user_registered(user: UserId, account: &str, nickname: &str, at_ms: i64) -> NewEvent {
    let data = json!({
        "user_id": user.to_string(),
        "account": account,
        "nickname": nickname,
    });
    NewEvent {
        kind: EventKind::UserRegistered,
        key: format!("u:{user}"),
        data: data.to_string(),
        created_ms: at_ms,
    }
}
