//! [`ConversationStore`] for [`PgStorage`], and the read positions
//! ([`MessageStore::record_read`](easyim_core::MessageStore::record_read)): each one
//! statement.
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
use tokio_postgres::Row;

use crate::error::Result;
use crate::rows::{id, message_row, to_i64, uid};
use crate::PgStorage;

/// The user's listed conversations (`w`, the peer parsed from the conversation's key), the
/// total of unread messages over those not muted (`t`), and the page after the cursor (`p`):
/// one row per entry, or one row of only the total when the page is empty.
const LIST_SQL: &str = "
    WITH w AS (
        SELECT k.conv AS key, coalesce(c.last_seq, 0) AS last_seq,
               coalesce((SELECT ts FROM messages WHERE conv = k.conv AND conv_seq = c.last_seq),
                        0) AS updated_at,
               k.read_seq, k.own_seq, k.pinned, k.muted,
               (left(k.conv, 1) = 'g')::int AS is_group,
               CASE WHEN left(k.conv, 1) = 'g' THEN split_part(k.conv, ':', 2)::bigint
                    WHEN split_part(k.conv, ':', 2)::bigint = $1
                        THEN split_part(k.conv, ':', 3)::bigint
                    ELSE split_part(k.conv, ':', 2)::bigint END AS peer
        FROM cursors k LEFT JOIN convs c ON c.conv = k.conv
        WHERE k.user_id = $1 AND coalesce(c.last_seq, 0) > k.hidden_seq
          AND (coalesce(c.last_seq, 0) > 0 OR left(k.conv, 1) = 'g')
    ), t AS (
        SELECT coalesce(sum(greatest(0, last_seq - greatest(read_seq, own_seq))), 0)::bigint
               AS total
        FROM w WHERE NOT muted
    ), p AS (
        SELECT w.key, w.peer, w.last_seq, w.read_seq, w.own_seq, w.pinned, w.muted,
               w.updated_at, w.is_group,
               coalesce(u.nickname, g.name, '') AS name, coalesce(u.avatar, '') AS avatar,
               m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
               m.content, m.ts, m.ref_id, m.recalled, m.edited_at
        FROM w
        LEFT JOIN messages m ON m.conv = w.key AND m.conv_seq = w.last_seq
        LEFT JOIN users u ON w.is_group = 0 AND u.id = w.peer
        LEFT JOIN chat_groups g ON w.is_group = 1 AND g.id = w.peer
        WHERE $2::boolean IS NULL OR (NOT w.pinned AND $2) OR (w.pinned = $2
              AND (w.updated_at < $3 OR (w.updated_at = $3
              AND (w.is_group, w.peer) > ($4::int, $5::bigint))))
        ORDER BY w.pinned DESC, w.updated_at DESC, w.is_group, w.peer
        LIMIT $6
    )
    SELECT t.total, p.* FROM t LEFT JOIN p ON true
    ORDER BY p.pinned DESC, p.updated_at DESC, p.is_group, p.peer";

/// The entry of a [`LIST_SQL`] row, if it has one.
fn list_row(r: &Row) -> Result<Option<ConversationSummary>> {
    let Some(key) = r.get::<_, Option<String>>(1) else {
        return Ok(None);
    };
    let conversation: Conversation = key
        .parse()
        .map_err(easyim_core::StorageError::unavailable_msg)?;
    let last_message = r.get::<_, Option<String>>(12).map(|_| message_row(r, 12));
    Ok(Some(ConversationSummary {
        conversation,
        peer: uid(r, 2),
        last_seq: uid(r, 3),
        read_seq: uid(r, 4),
        own_seq: uid(r, 5),
        pinned: r.get(6),
        muted: r.get(7),
        updated_at: r.get(8),
        name: r.get(10),
        avatar: r.get(11),
        last_message,
    }))
}

#[async_trait]
impl ConversationStore for PgStorage {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<ConversationRows> {
        let (pinned, updated_at, is_group, peer) = match after {
            Some(a) => (
                Some(a.pinned),
                a.updated_at,
                a.chat_type as i32,
                to_i64(a.peer),
            ),
            None => (None, 0, 0, 0),
        };
        let found = self
            .query(
                LIST_SQL,
                &[
                    &id(user),
                    &pinned,
                    &updated_at,
                    &is_group,
                    &peer,
                    &to_i64(limit),
                ],
            )
            .await?;
        let mut out = ConversationRows::default();
        for r in &found {
            out.total_unread = r.get::<_, i64>(0).max(0) as u64;
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
        let row = self
            .query_opt(
                "UPDATE cursors SET pinned = coalesce($3, pinned), muted = coalesce($4, muted)
                 WHERE user_id = $1 AND conv = $2 RETURNING pinned, muted",
                &[&id(user), &conv.key(), &change.pinned, &change.muted],
            )
            .await?;
        Ok(row.map(|r| ConversationSettings {
            pinned: r.get(0),
            muted: r.get(1),
        }))
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE cursors SET hidden_seq =
                     coalesce((SELECT last_seq FROM convs WHERE conv = $2), 0)
                 WHERE user_id = $1 AND conv = $2",
                &[&id(user), &conv.key()],
            )
            .await?;
        Ok(n > 0)
    }
}

/// [`MessageStore::record_read`](easyim_core::MessageStore::record_read), one call of
/// `easyim_record_read` (schema version 4).
pub(crate) async fn record_read(
    s: &PgStorage,
    reader: UserId,
    conv: Conversation,
    at: ReadAt,
) -> Result<ReadOutcome> {
    let (group, low, high): (Option<i64>, Option<i64>, Option<i64>) = match conv {
        Conversation::Direct { low, high } => (None, Some(id(low)), Some(id(high))),
        Conversation::Group(g) => (Some(id(g)), None, None),
    };
    let (msg_id, seq): (Option<String>, Option<i64>) = match at {
        ReadAt::Id(m) => (Some(m), None),
        ReadAt::Seq(n) => (None, Some(to_i64(n))),
        ReadAt::Last => (None, None),
    };
    let r = s
        .query_one(
            "SELECT * FROM easyim_record_read($1, $2, $3, $4, $5, $6, $7)",
            &[&id(reader), &conv.key(), &group, &low, &high, &msg_id, &seq],
        )
        .await?;
    Ok(match r.get::<_, i32>(0) {
        0 => ReadOutcome::Read(ReadState {
            previous: uid(&r, 1),
            read_seq: uid(&r, 2),
            last_seq: uid(&r, 3),
            own_seq: uid(&r, 4),
            message: r.get::<_, Option<String>>(5).map(|_| message_row(&r, 5)),
        }),
        2 => ReadOutcome::BeyondLast(uid(&r, 3)),
        _ => ReadOutcome::NoMessage,
    })
}
