//! The `data` of each kind of event, as JSON text. Every storage writes it through these
//! functions (PostgreSQL builds the same document in SQL; the storage kit compares them).

use easyim_proto::ChatType;
use serde::{Serialize, Serializer};
use serde_json::json;

use super::{EventKind, NewEvent};
use crate::types::{Device, FriendRequest, RequestStatus, StoredMessage, UserId};

/// `message.created`: `message` as stored, its `conversation` key and its `recipients` (every
/// member but the sender for a group), ids as decimal strings. Keyed by the conversation.
///
/// Written by the storage inside the transaction that stores the message (on SQLite, on its
/// one writer thread), so it is serialized straight from borrowed fields, without building a
/// JSON tree first.
pub fn message_created(message: &StoredMessage, recipients: &[UserId]) -> NewEvent {
    let conv = message.conversation().key();
    let data = Created {
        conversation: &conv,
        message: CreatedMessage::of(message),
        recipients: Decimals(recipients),
    };
    NewEvent {
        kind: EventKind::of_message(message.msg_type),
        // Strings, numbers and ids: serializing cannot fail.
        data: serde_json::to_string(&data).unwrap_or_default(),
        key: conv,
        created_ms: message.timestamp,
    }
}

/// The `data` of `message.created`.
#[derive(Serialize)]
struct Created<'a> {
    conversation: &'a str,
    message: CreatedMessage<'a>,
    recipients: Decimals<'a>,
}

/// The `message` of `message.created`.
#[derive(Serialize)]
struct CreatedMessage<'a> {
    id: &'a str,
    conv_seq: u64,
    from_user_id: Decimal,
    to_id: Decimal,
    chat_type: &'static str,
    msg_type: i32,
    content: &'a str,
    timestamp: i64,
    ref_id: &'a str,
}

impl<'a> CreatedMessage<'a> {
    fn of(message: &'a StoredMessage) -> Self {
        CreatedMessage {
            id: &message.id,
            conv_seq: message.conv_seq,
            from_user_id: Decimal(message.from),
            to_id: Decimal(message.to),
            chat_type: match message.chat_type {
                ChatType::Single => "single",
                ChatType::Group => "group",
            },
            msg_type: message.msg_type,
            content: &message.content,
            timestamp: message.timestamp,
            ref_id: &message.ref_id,
        }
    }
}

/// `message.offline` for `user`: the message and its conversation as in `message.created`
/// (without `recipients`), the user's push `devices` and whether it `muted` the
/// conversation. Keyed by the conversation, so it follows the message's `message.created`.
pub fn message_offline(
    message: &StoredMessage,
    user: UserId,
    devices: &[Device],
    muted: bool,
) -> NewEvent {
    let conv = message.conversation().key();
    let data = Offline {
        conversation: &conv,
        message: CreatedMessage::of(message),
        user_id: Decimal(user),
        muted,
        devices: devices
            .iter()
            .map(|d| OfflineDevice {
                platform: &d.platform,
                token: &d.token,
            })
            .collect(),
    };
    NewEvent {
        kind: EventKind::MessageOffline,
        data: serde_json::to_string(&data).unwrap_or_default(),
        key: conv,
        created_ms: message.timestamp,
    }
}

/// The `data` of `message.offline`.
#[derive(Serialize)]
struct Offline<'a> {
    conversation: &'a str,
    message: CreatedMessage<'a>,
    user_id: Decimal,
    muted: bool,
    devices: Vec<OfflineDevice<'a>>,
}

/// A push device in `message.offline`.
#[derive(Serialize)]
struct OfflineDevice<'a> {
    platform: &'a str,
    token: &'a str,
}

/// An id written as a decimal string, as everywhere in the API.
struct Decimal(u64);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Ids written as a list of decimal strings.
struct Decimals<'a>(&'a [UserId]);

impl Serialize for Decimals<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&id| Decimal(id)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_created_is_the_documented_document() {
        let m = StoredMessage {
            id: "m-\"1\"".into(),
            conv_seq: 7,
            from: 10,
            to: u64::MAX,
            chat_type: ChatType::Group,
            msg_type: 0,
            content: "héllo\n".into(),
            timestamp: 1_700_000_000_000,
            ref_id: String::new(),
            recalled: false,
            edited_at: 0,
        };
        let e = message_created(&m, &[3, 4]);
        let got: serde_json::Value = serde_json::from_str(&e.data).unwrap();
        let want = json!({
            "conversation": format!("g:{}", u64::MAX),
            "message": {
                "id": "m-\"1\"",
                "conv_seq": 7,
                "from_user_id": "10",
                "to_id": u64::MAX.to_string(),
                "chat_type": "group",
                "msg_type": 0,
                "content": "héllo\n",
                "timestamp": 1_700_000_000_000i64,
                "ref_id": "",
            },
            "recipients": ["3", "4"],
        });
        assert_eq!(got, want);
        assert_eq!(e.key, format!("g:{}", u64::MAX));
        assert_eq!(e.kind, EventKind::MessageCreated);
    }
}
