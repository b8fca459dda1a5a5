//! [`ConversationStore`] for [`MysqlStorage`], and the read positions
//! ([`MessageStore::record_read`](easyim_core::MessageStore::record_read)).
//!
//! A page of the list is one query over the user's cursors (their primary key starts with the
//! user), joined to each conversation's row and last message (found from `convs.last_seq`
//! through the `(conv, conv_seq)` index): the counts are
//! `last_seq - max(read_seq, own_seq)`, never a count of message rows.

use async_trait::async_trait;
use easyim_core::{
    Conversation, ConversationCursor, ConversationRows, ConversationSettings, ConversationStore,
    ConversationSummary, ReadAt, ReadOutcome, ReadState, SettingsChange, UserId,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use crate::error::{DbError, Result};
use crate::rows::{get, id, message_row, to_i64, uid, vals, MESSAGE_COLUMNS};
use crate::{transaction, MysqlStorage};

/// The user's listed conversations (`w`, the peer parsed from the conversation's key), the
/// total of unread messages over those not muted (`t`), and the page after the cursor (`p`,
/// whose condition is `{page}`): one row per entry, or one row of only the total when the
/// page is empty. Parameters: the user twice, the page's, the limit.
const LIST_SQL: &str = "
    WITH w AS (
        SELECT k.conv AS conv_key, COALESCE(c.last_seq, 0) AS last_seq,
               COALESCE((SELECT ts FROM messages WHERE conv = k.conv AND conv_seq = c.last_seq),
                        0) AS updated_at,
               k.read_seq, k.own_seq, k.pinned, k.muted,
               IF(LEFT(k.conv, 1) = 'g', 1, 0) AS is_group,
               CASE WHEN LEFT(k.conv, 1) = 'g' THEN CAST(SUBSTRING(k.conv, 3) AS SIGNED)
                    WHEN CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(k.conv, ':', 2), ':', -1)
                              AS SIGNED) = ?
                        THEN CAST(SUBSTRING_INDEX(k.conv, ':', -1) AS SIGNED)
                    ELSE CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(k.conv, ':', 2), ':', -1)
                              AS SIGNED) END AS peer
        FROM cursors k LEFT JOIN convs c ON c.conv = k.conv
        WHERE k.user_id = ? AND COALESCE(c.last_seq, 0) > k.hidden_seq
          AND (COALESCE(c.last_seq, 0) > 0 OR LEFT(k.conv, 1) = 'g')
    ), t AS (
        SELECT CAST(COALESCE(SUM(GREATEST(0, last_seq - GREATEST(read_seq, own_seq))), 0)
                    AS SIGNED) AS total
        FROM w WHERE NOT muted
    ), p AS (
        SELECT w.conv_key, w.peer, w.last_seq, w.read_seq, w.own_seq, w.pinned, w.muted,
               w.updated_at, w.is_group,
               COALESCE(u.nickname, g.name, '') AS name, COALESCE(u.avatar, '') AS avatar,
               m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
               m.content, m.ts, m.ref_id, m.recalled, m.edited_at
        FROM w
        LEFT JOIN messages m ON m.conv = w.conv_key AND m.conv_seq = w.last_seq
        LEFT JOIN users u ON w.is_group = 0 AND u.id = w.peer
        LEFT JOIN chat_groups g ON w.is_group = 1 AND g.id = w.peer
        WHERE {page}
        ORDER BY w.pinned DESC, w.updated_at DESC, w.is_group, w.peer
        LIMIT ?
    )
    SELECT t.total, p.* FROM t LEFT JOIN p ON TRUE
    ORDER BY p.pinned DESC, p.updated_at DESC, p.is_group, p.peer";

/// [`LIST_SQL`]'s page condition after a cursor: parameters pinned twice, updated_at twice,
/// is_group, peer.
const AFTER_CURSOR: &str = "((NOT w.pinned AND ?) OR (w.pinned = ?
    AND (w.updated_at < ? OR (w.updated_at = ? AND (w.is_group, w.peer) > (?, ?)))))";

/// The entry of a [`LIST_SQL`] row, if it has one.
fn list_row(r: &Row) -> Result<Option<ConversationSummary>, DbError> {
    let Some(key) = get::<Option<String>>(r, 1)? else {
        return Ok(None);
    };
    let conversation: Conversation = key
        .parse()
        .map_err(|e: String| DbError::Storage(easyim_core::StorageError::unavailable_msg(e)))?;
    let last_message = match get::<Option<String>>(r, 12)? {
        Some(_) => Some(message_row(r, 12)?),
        None => None,
    };
    Ok(Some(ConversationSummary {
        conversation,
        peer: uid(r, 2)?,
        last_seq: uid(r, 3)?,
        read_seq: uid(r, 4)?,
        own_seq: uid(r, 5)?,
        pinned: get(r, 6)?,
        muted: get(r, 7)?,
        updated_at: get(r, 8)?,
        name: get(r, 10)?,
        avatar: get(r, 11)?,
        last_message,
    }))
}

#[async_trait]
impl ConversationStore for MysqlStorage {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows> {
        let mut params = vals![id(user), id(user)];
        let sql = match after {
            Some(a) => {
                params.extend(vals![
                    a.pinned,
                    a.pinned,
                    a.updated_at,
                    a.updated_at,
                    a.chat_type as i32,
                    to_i64(a.peer)
                ]);
                LIST_SQL.replace("{page}", AFTER_CURSOR)
            }
            None => LIST_SQL.replace("{page}", "TRUE"),
        };
        params.push(Value::from(to_i64(limit)));
        let found = self.rows(&sql, params).await?;
        let mut out = ConversationRows::default();
        for r in &found {
            out.total_unread = get::<i64>(r, 0)?.max(0) as u64;
            out.items.extend(list_row(r)?);
        }
        Ok(out)
    }

    async fn set_conversation_settings(
        &self,
        user: UserId,
        conv: Conversation,
        change: SettingsChange,
    ) -> Result<Option<ConversationSettings>> {
        let key = conv.key();
        let row = transaction!(self, |tx| {
            tx.exec_drop(
                "UPDATE cursors SET pinned = COALESCE(?, pinned), muted = COALESCE(?, muted)
                 WHERE user_id = ? AND conv = ?",
                vals![change.pinned, change.muted, id(user), key.as_str()],
            )
            .await?;
            let row: Option<Row> = tx
                .exec_first(
                    "SELECT pinned, muted FROM cursors WHERE user_id = ? AND conv = ?",
                    vals![id(user), key.as_str()],
                )
                .await?;
            row
        })?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ConversationSettings {
            pinned: get(&r, 0)?,
            muted: get(&r, 1)?,
        }))
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool> {
        let key = conv.key();
        let hidden = transaction!(self, |tx| {
            let found: Option<i64> = tx
                .exec_first(
                    "SELECT user_id FROM cursors WHERE user_id = ? AND conv = ? FOR UPDATE",
                    vals![id(user), key.as_str()],
                )
                .await?;
            if found.is_some() {
                tx.exec_drop(
                    "UPDATE cursors SET hidden_seq =
                         COALESCE((SELECT last_seq FROM convs WHERE conv = ?), 0)
                     WHERE user_id = ? AND conv = ?",
                    vals![key.as_str(), id(user), key.as_str()],
                )
                .await?;
            }
            found.is_some()
        })?;
        Ok(hidden)
    }
}

/// The message of `conv` at `seq`, or named `msg_id`.
fn message_sql(by_id: bool) -> String {
    let column = if by_id { "msg_id" } else { "conv_seq" };
    format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conv = ? AND m.{column} = ?")
}

/// Whether `user` is one of a direct conversation's pair, or a member of the group.
pub(crate) async fn takes_part(
    tx: &mut mysql_async::Transaction<'_>,
    user: UserId,
    conv: Conversation,
) -> Result<bool, DbError> {
    Ok(match conv {
        Conversation::Direct { low, high } => user == low || user == high,
        Conversation::Group(g) => tx
            .exec_first::<i64, _, _>(
                "SELECT 1 FROM members WHERE group_id = ? AND user_id = ?",
                vals![id(g), id(user)],
            )
            .await?
            .is_some(),
    })
}

/// [`MessageStore::record_read`](easyim_core::MessageStore::record_read): one transaction.
pub(crate) async fn record_read(
    s: &MysqlStorage,
    reader: UserId,
    conv: Conversation,
    at: ReadAt,
) -> Result<ReadOutcome> {
    let key = conv.key();
    let outcome = transaction!(s, |tx| {
        if !takes_part(&mut tx, reader, conv).await? {
            return Ok(ReadOutcome::NoMessage);
        }
        let last: Option<i64> = tx
            .exec_first(
                "SELECT last_seq FROM convs WHERE conv = ?",
                vals![key.as_str()],
            )
            .await?;
        let last = last.unwrap_or(0).max(0) as u64;
        let (seq, mut message) = match &at {
            ReadAt::Id(msg_id) => {
                let row: Option<Row> = tx
                    .exec_first(message_sql(true), vals![key.as_str(), msg_id.as_str()])
                    .await?;
                match row.as_ref().map(|r| message_row(r, 0)).transpose()? {
                    Some(m) if m.from != reader => (m.conv_seq, Some(m)),
                    _ => return Ok(ReadOutcome::NoMessage),
                }
            }
            ReadAt::Seq(n) if *n > last => return Ok(ReadOutcome::BeyondLast(last)),
            ReadAt::Seq(n) => (*n, None),
            ReadAt::Last => (last, None),
        };
        if last == 0 {
            return Ok(ReadOutcome::Read(ReadState {
                previous: 0,
                read_seq: 0,
                last_seq: 0,
                own_seq: 0,
                message: None,
            }));
        }
        if message.is_none() && seq > 0 {
            let row: Option<Row> = tx
                .exec_first(message_sql(false), vals![key.as_str(), to_i64(seq)])
                .await?;
            message = row.as_ref().map(|r| message_row(r, 0)).transpose()?;
        }
        let cursor: Option<(i64, i64)> = tx
            .exec_first(
                "SELECT read_seq, own_seq FROM cursors WHERE user_id = ? AND conv = ? FOR UPDATE",
                vals![id(reader), key.as_str()],
            )
            .await?;
        let (previous, own) = cursor.unwrap_or((0, 0));
        tx.exec_drop(
            "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE arrived_seq = GREATEST(arrived_seq, VALUES(arrived_seq)),
                 read_seq = GREATEST(read_seq, VALUES(read_seq))",
            vals![id(reader), key.as_str(), to_i64(seq), to_i64(seq)],
        )
        .await?;
        let previous = previous.max(0) as u64;
        ReadOutcome::Read(ReadState {
            previous,
            read_seq: previous.max(seq),
            last_seq: last,
            own_seq: own.max(0) as u64,
            message,
        })
    })?;
    Ok(outcome)
}
