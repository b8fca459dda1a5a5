//! The `data` of each kind of event, as JSON text. Every storage writes it through these
//! functions (PostgreSQL builds the same document in SQL; the storage kit compares them).

use easyim_proto::ChatType;
use serde_json::json;

use super::{EventKind, NewEvent};
use crate::types::{FriendRequest, RequestStatus, StoredMessage, UserId};

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

/// The ordering key of the friend events of `a` and `b`: `f:<lower id>:<higher id>`, so a
/// request, its answer and a later removal arrive in order.
pub fn friend_key(a: UserId, b: UserId) -> String {
    format!("f:{}:{}", a.min(b), a.max(b))
}

/// `friend.requested`: the new open `request` (`request_id`, `from_user_id`, `to_user_id`,
/// `msg`). Keyed by the pair ([`friend_key`]).
pub fn friend_requested(request: &FriendRequest, at_ms: i64) -> NewEvent {
    let data = json!({
        "request_id": request.id.to_string(),
        "from_user_id": request.from.to_string(),
        "to_user_id": request.to.to_string(),
        "msg": request.msg,
    });
    NewEvent {
        kind: EventKind::FriendRequested,
        key: friend_key(request.from, request.to),
        data: data.to_string(),
        created_ms: at_ms,
    }
}

/// `friend.accepted` or `friend.refused` (by the `request`'s new status; `None` while it is
/// open): `request_id`, `from_user_id` (who asked) and `to_user_id` (who answered). Keyed by
/// the pair.
pub fn friend_answered(request: &FriendRequest, at_ms: i64) -> Option<NewEvent> {
    let kind = match request.status {
        RequestStatus::Accepted => EventKind::FriendAccepted,
        RequestStatus::Refused => EventKind::FriendRefused,
        RequestStatus::Open => return None,
    };
    let data = json!({
        "request_id": request.id.to_string(),
        "from_user_id": request.from.to_string(),
        "to_user_id": request.to.to_string(),
    });
    Some(NewEvent {
        kind,
        key: friend_key(request.from, request.to),
        data: data.to_string(),
        created_ms: at_ms,
    })
}

/// `friend.removed`: `user_id` ended its friendship with `friend_id`. Keyed by the pair.
pub fn friend_removed(user: UserId, friend: UserId, at_ms: i64) -> NewEvent {
    let data = json!({
        "user_id": user.to_string(),
        "friend_id": friend.to_string(),
    });
    NewEvent {
        kind: EventKind::FriendRemoved,
        key: friend_key(user, friend),
        data: data.to_string(),
        created_ms: at_ms,
    }
}
