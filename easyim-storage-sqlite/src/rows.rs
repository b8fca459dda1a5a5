//! Row mapping (SQLite rows into the core's types), id conversions, and the small lookups that
//! several stores share.

use easyim_core::{FriendRequest, Group, Profile, RequestStatus, StoredMessage, User};
use easyim_proto::ChatType;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Ids and counters are below 2^63 (snowflakes, sequence numbers): stored as SQLite integers.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn limit_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn id(n: u64) -> i64 {
    n as i64
}

pub(crate) const USER_COLUMNS: &str = "id, account, nickname, avatar, password_hash, secret";

pub(crate) fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get::<_, i64>(0)? as u64,
        account: r.get(1)?,
        nickname: r.get(2)?,
        avatar: r.get(3)?,
        password_hash: r.get(4)?,
        secret: r.get(5)?,
    })
}

pub(crate) fn profile_row(r: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: r.get::<_, i64>(0)? as u64,
        account: r.get(1)?,
        nickname: r.get(2)?,
        avatar: r.get(3)?,
    })
}

pub(crate) fn request_row(r: &Row<'_>) -> rusqlite::Result<FriendRequest> {
    Ok(FriendRequest {
        id: r.get::<_, i64>(0)? as u64,
        from: r.get::<_, i64>(1)? as u64,
        to: r.get::<_, i64>(2)? as u64,
        msg: r.get(3)?,
        status: RequestStatus::from_i64(r.get(4)?),
    })
}

pub(crate) fn group_row(r: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: r.get::<_, i64>(0)? as u64,
        name: r.get(1)?,
        owner: r.get::<_, i64>(2)? as u64,
        member_count: r.get::<_, i64>(3)? as u64,
    })
}

/// The columns [`message_row`] reads, from `messages`, starting at index 0.
pub(crate) const MESSAGE_COLUMNS: &str =
    "msg_id, conv_seq, from_user, to_id, chat_type, msg_type, content, ts, ref_id, recalled,
     edited_at";

pub(crate) fn message_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    message_row_at(r, 0)
}

/// [`message_row`] of a row whose [`MESSAGE_COLUMNS`] start at column `at`.
pub(crate) fn message_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<StoredMessage> {
    let chat_type: i32 = r.get(at + 4)?;
    Ok(StoredMessage {
        id: r.get(at)?,
        conv_seq: r.get::<_, i64>(at + 1)? as u64,
        from: r.get::<_, i64>(at + 2)? as u64,
        to: r.get::<_, i64>(at + 3)? as u64,
        chat_type: ChatType::try_from(chat_type).unwrap_or(ChatType::Single),
        msg_type: r.get(at + 5)?,
        content: r.get(at + 6)?,
        timestamp: r.get(at + 7)?,
        ref_id: r.get(at + 8)?,
        recalled: r.get(at + 9)?,
        edited_at: r.get(at + 10)?,
    })
}

pub(crate) fn user_exists(c: &Connection, user: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
        .query_row([user], |r| r.get(0))
}

pub(crate) fn group_exists(c: &Connection, group: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM chat_groups WHERE id = ?1)")?
        .query_row([group], |r| r.get(0))
}

pub(crate) fn is_member(c: &Connection, group: i64, user: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM members WHERE group_id = ?1 AND user_id = ?2)")?
        .query_row([group, user], |r| r.get(0))
}

pub(crate) fn are_friends(c: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?2)")?
        .query_row([a, b], |r| r.get(0))
}

pub(crate) fn group_by_id(c: &Connection, group: i64) -> rusqlite::Result<Option<Group>> {
    c.prepare_cached(
        "SELECT id, name, owner, (SELECT COUNT(*) FROM members WHERE group_id = g.id)
         FROM chat_groups g WHERE id = ?1",
    )?
    .query_row([group], group_row)
    .optional()
}

/// The id of the conversation with this key in `convs`, if it has one.
pub(crate) fn conv_id(c: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM convs WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

pub(crate) fn find_message(
    c: &Connection,
    conv: i64,
    id: &str,
) -> rusqlite::Result<Option<StoredMessage>> {
    c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND msg_id = ?2"
    ))?
    .query_row(params![conv, id], message_row)
    .optional()
}
