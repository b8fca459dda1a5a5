//! Row mapping: PostgreSQL rows into the core's types, and id conversions.

use easyim_core::{FriendRequest, Group, Profile, RequestStatus, StoredMessage, User};
use easyim_proto::ChatType;
use tokio_postgres::Row;

/// Ids are snowflakes below 2^63, stored as `bigint`.
pub(crate) fn id(n: u64) -> i64 {
    n as i64
}

/// Counters and limits beyond `i64::MAX` clamp to it.
pub(crate) fn to_i64<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

pub(crate) fn uid(r: &Row, i: usize) -> u64 {
    r.get::<_, i64>(i) as u64
}

pub(crate) fn chat_type(n: i32) -> ChatType {
    ChatType::try_from(n).unwrap_or(ChatType::Single)
}

pub(crate) const USER_COLUMNS: &str = "id, account, nickname, avatar, password_hash, secret";

pub(crate) fn user_row(r: &Row) -> User {
    User {
        id: uid(r, 0),
        account: r.get(1),
        nickname: r.get(2),
        avatar: r.get(3),
        password_hash: r.get(4),
        secret: r.get(5),
    }
}

pub(crate) fn profile_row(r: &Row) -> Profile {
    Profile {
        id: uid(r, 0),
        account: r.get(1),
        nickname: r.get(2),
        avatar: r.get(3),
    }
}

pub(crate) const REQUEST_COLUMNS: &str = "id, from_user, to_user, msg, status";

pub(crate) fn request_row(r: &Row) -> FriendRequest {
    FriendRequest {
        id: uid(r, 0),
        from: uid(r, 1),
        to: uid(r, 2),
        msg: r.get(3),
        status: RequestStatus::from_i64(i64::from(r.get::<_, i32>(4))),
    }
}

pub(crate) fn group_row(r: &Row) -> Group {
    Group {
        id: uid(r, 0),
        name: r.get(1),
        owner: uid(r, 2),
        member_count: uid(r, 3),
    }
}

/// The columns [`message_row`] reads, from `messages m`, starting at index `at`.
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type, m.content, m.ts,
     m.ref_id, m.recalled, m.edited_at";

pub(crate) fn message_row(r: &Row, at: usize) -> StoredMessage {
    StoredMessage {
        id: r.get(at),
        conv_seq: uid(r, at + 1),
        from: uid(r, at + 2),
        to: uid(r, at + 3),
        chat_type: chat_type(r.get(at + 4)),
        msg_type: r.get(at + 5),
        content: r.get(at + 6),
        timestamp: r.get(at + 7),
        ref_id: r.get(at + 8),
        recalled: r.get(at + 9),
        edited_at: r.get(at + 10),
    }
}

pub(crate) fn rows<T>(rows: Vec<Row>, f: impl Fn(&Row) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}
