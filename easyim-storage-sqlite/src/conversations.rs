//! [`ConversationStore`] for [`SqliteStorage`], and the read positions
//! ([`MessageStore::record_read`](easyim_core::MessageStore::record_read)).
//!
//! A page of the list is one query over the user's cursors (its primary key starts with the
//! user), joined to each conversation's row and last message (the top of its
//! `(conv, conv_seq)` index): the counts are `last_seq - max(read_seq, own_seq)`, never a
//! count of message rows.

use async_trait::async_trait;
use easyim_core::{
    peer_of, Conversation, ConversationCursor, ConversationRows, ConversationSettings,
    ConversationStore, ConversationSummary, ReadAt, ReadOutcome, ReadState, SettingsChange, UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::cache::Cache;
use crate::error::{DbError, Result};
use crate::rows::{
    find_message, id, limit_i64, message_row, message_row_at, to_i64, MESSAGE_COLUMNS,
};
use crate::SqliteStorage;

/// The user's listed conversations (`w`, with the peer parsed from the conversation's key),
/// the total of unread messages over those not muted (`t`), and the page after the cursor
/// (`p`): one row per entry, or one row of only the total when the page is empty.
const LIST_SQL: &str = "
    WITH v AS (
        SELECT k.conv AS conv_id, c.key, k.read_seq, k.own_seq, k.pinned, k.muted,
               k.hidden_seq, substr(c.key, 1, 1) = 'g' AS is_group, substr(c.key, 3) AS rest,
               coalesce((SELECT max(conv_seq) FROM messages WHERE conv = k.conv), 0)
                   AS last_seq
        FROM cursors k JOIN convs c ON c.id = k.conv
        WHERE k.user_id = ?1
    ), w AS (
        SELECT v.*, CASE
            WHEN is_group THEN CAST(rest AS INTEGER)
            WHEN CAST(substr(rest, 1, instr(rest, ':') - 1) AS INTEGER) = ?1
                THEN CAST(substr(rest, instr(rest, ':') + 1) AS INTEGER)
            ELSE CAST(substr(rest, 1, instr(rest, ':') - 1) AS INTEGER) END AS peer,
            coalesce((SELECT ts FROM messages WHERE conv = v.conv_id AND conv_seq = v.last_seq),
                     0) AS updated_at
        FROM v
        WHERE last_seq > hidden_seq AND (last_seq > 0 OR is_group)
    ), t AS (
        SELECT coalesce(sum(max(0, last_seq - max(read_seq, own_seq))), 0) AS total
        FROM w WHERE NOT muted
    ), p AS (
        SELECT w.key, w.peer, w.last_seq, w.read_seq, w.own_seq, w.pinned, w.muted,
               w.updated_at, w.is_group,
               coalesce(u.nickname, g.name, '') AS name, coalesce(u.avatar, '') AS avatar,
               m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
               m.content, m.ts, m.ref_id, m.recalled, m.edited_at
        FROM w
        LEFT JOIN messages m ON m.conv = w.conv_id AND m.conv_seq = w.last_seq
        LEFT JOIN users u ON NOT w.is_group AND u.id = w.peer
        LEFT JOIN chat_groups g ON w.is_group AND g.id = w.peer
        WHERE ?2 IS NULL OR w.pinned < ?2 OR (w.pinned = ?2 AND (w.updated_at < ?3
              OR (w.updated_at = ?3 AND (w.is_group > ?4
              OR (w.is_group = ?4 AND w.peer > ?5)))))
        ORDER BY w.pinned DESC, w.updated_at DESC, w.is_group, w.peer
        LIMIT ?6
    )
    SELECT t.total, p.* FROM t LEFT JOIN p ON 1
    ORDER BY p.pinned DESC, p.updated_at DESC, p.is_group, p.peer";

/// One row of [`LIST_SQL`]: the total, and the entry if there is one.
fn list_row(r: &Row<'_>, user: UserId) -> rusqlite::Result<(u64, Option<ConversationSummary>)> {
    let total = r.get::<_, i64>(0)?.max(0) as u64;
    let Some(key) = r.get::<_, Option<String>>(1)? else {
        return Ok((total, None));
    };
    let conversation: Conversation = key.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
    })?;
    let last_message = if r.get::<_, Option<String>>(12)?.is_some() {
        Some(message_row_at(r, 12)?)
    } else {
        None
    };
    Ok((
        total,
        Some(ConversationSummary {
            conversation,
            peer: peer_of(conversation, user),
            last_seq: r.get::<_, i64>(3)? as u64,
            read_seq: r.get::<_, i64>(4)? as u64,
            own_seq: r.get::<_, i64>(5)? as u64,
            pinned: r.get(6)?,
            muted: r.get(7)?,
            updated_at: r.get(8)?,
            name: r.get(10)?,
            avatar: r.get(11)?,
            last_message,
        }),
    ))
}

/// [`MessageStore::record_read`](easyim_core::MessageStore::record_read) on the writer.
pub(crate) fn record_read(
    c: &Connection,
    cache: &mut Cache,
    reader: UserId,
    conv: Conversation,
    at: ReadAt,
) -> Result<ReadOutcome, DbError> {
    let member = match conv {
        Conversation::Direct { low, high } => reader == low || reader == high,
        Conversation::Group(g) => cache
            .group(c, id(g))?
            .is_some_and(|m| m.binary_search(&id(reader)).is_ok()),
    };
    if !member {
        return Ok(ReadOutcome::NoMessage);
    }
    let state = cache.conv(c, conv)?;
    let last = state.map_or(0, |s| s.last_seq) as u64;
    let (seq, message) = match at {
        ReadAt::Id(msg_id) => {
            let found = match state {
                Some(s) => find_message(c, s.id, &msg_id)?,
                None => None,
            };
            match found {
                Some(m) if m.from != reader => (m.conv_seq, Some(m)),
                _ => return Ok(ReadOutcome::NoMessage),
            }
        }
        ReadAt::Seq(n) if n > last => return Ok(ReadOutcome::BeyondLast(last)),
        ReadAt::Seq(n) => (n, None),
        ReadAt::Last => (last, None),
    };
    let Some(state) = state.filter(|_| last > 0) else {
        return Ok(ReadOutcome::Read(ReadState {
            previous: 0,
            read_seq: 0,
            last_seq: 0,
            own_seq: 0,
            message: None,
        }));
    };
    let message = match message {
        Some(m) => Some(m),
        None if seq > 0 => c
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND conv_seq = ?2"
            ))?
            .query_row(params![state.id, to_i64(seq)], message_row)
            .optional()?,
        None => None,
    };
    let (previous, own): (i64, i64) = c
        .prepare_cached("SELECT read_seq, own_seq FROM cursors WHERE user_id = ?1 AND conv = ?2")?
        .query_row(params![id(reader), state.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((0, 0));
    // A message of the reader's stored in this same transaction is not on its cursor yet.
    let own = own.max(cache.unflushed_own(id(reader), state.id).unwrap_or(0));
    c.prepare_cached(
        "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (user_id, conv) DO UPDATE SET
             arrived_seq = max(arrived_seq, excluded.arrived_seq),
             read_seq = max(read_seq, excluded.read_seq)",
    )?
    .execute(params![id(reader), state.id, to_i64(seq)])?;
    Ok(ReadOutcome::Read(ReadState {
        previous: previous as u64,
        read_seq: (previous as u64).max(seq),
        last_seq: last,
        own_seq: own as u64,
        message,
    }))
}

#[async_trait]
impl ConversationStore for SqliteStorage {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows> {
        self.read(move |c| {
            let (pinned, updated_at, is_group, peer) = match after {
                Some(a) => (
                    Some(a.pinned),
                    a.updated_at,
                    a.chat_type as i64,
                    to_i64(a.peer),
                ),
                None => (None, 0, 0, 0),
            };
            let mut stmt = c.prepare_cached(LIST_SQL)?;
            let rows = stmt.query_map(
                params![
                    id(user),
                    pinned,
                    updated_at,
                    is_group,
                    peer,
                    limit_i64(limit)
                ],
                |r| list_row(r, user),
            )?;
            let mut out = ConversationRows::default();
            for row in rows {
                let (total, item) = row?;
                out.total_unread = total;
                out.items.extend(item);
            }
            Ok(out)
        })
        .await
    }

    async fn set_conversation_settings(
        &self,
        user: UserId,
        conv: Conversation,
        change: SettingsChange,
    ) -> Result<Option<ConversationSettings>> {
        self.write_with(true, move |c, cache| {
            let Some(state) = cache.conv(c, conv)? else {
                return Ok(None);
            };
            Ok(c.prepare_cached(
                "UPDATE cursors SET pinned = coalesce(?3, pinned), muted = coalesce(?4, muted)
                 WHERE user_id = ?1 AND conv = ?2 RETURNING pinned, muted",
            )?
            .query_row(
                params![id(user), state.id, change.pinned, change.muted],
                |r| {
                    Ok(ConversationSettings {
                        pinned: r.get(0)?,
                        muted: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool> {
        self.write_with(true, move |c, cache| {
            let Some(state) = cache.conv(c, conv)? else {
                return Ok(false);
            };
            let n = c
                .prepare_cached(
                    "UPDATE cursors SET hidden_seq = ?3 WHERE user_id = ?1 AND conv = ?2",
                )?
                .execute(params![id(user), state.id, state.last_seq])?;
            Ok(n > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Synchronous;
    use crate::schema::open_writer;

    /// A page reads the user's cursors by their primary key and every other table by its
    /// own: never a scan of a whole table (messages above all).
    #[test]
    fn list_query_uses_indexes() {
        let dir = tempfile::TempDir::new().unwrap();
        let conn = open_writer(&dir.path().join("eqp.db"), Synchronous::Normal).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LIST_SQL}"))
            .unwrap();
        let none: Option<bool> = None;
        let plan: Vec<String> = stmt
            .query_map(params![1, none, 0, 0, 0, 50], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        println!("{plan}");
        assert!(
            plan.contains("SEARCH k USING PRIMARY KEY (user_id=?)"),
            "{plan}"
        );
        for table in ["k", "c", "m", "u", "g"] {
            let scan = format!("SCAN {table}");
            assert!(
                !plan
                    .lines()
                    .any(|l| l == scan || l.starts_with(&format!("{scan} "))),
                "the page scans {table}:\n{plan}"
            );
        }
    }
}
