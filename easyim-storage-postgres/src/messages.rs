//! [`MessageStore`] for [`PgStorage`]: storing messages, receipts, pending messages and
//! history, each one statement.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use easyim_core::{
    Conversation, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, ReadAt,
    ReadOutcome, Receipt, StorageError, StoreOutcome, StoredMessage, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::conversations::record_read;
use crate::error::{DbError, Result};
use crate::rows::{id, message_row, rows, to_i64, uid, MESSAGE_COLUMNS};
use crate::{retrying, PgStorage};

const PENDING_SQL: &str = "
    SELECT m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
           m.content, m.ts
    FROM cursors c
    JOIN messages m ON m.conv = c.conv AND m.conv_seq > c.arrived_seq
    WHERE c.user_id = $1 AND m.gseq > $2 AND m.from_user <> $1
    ORDER BY m.gseq
    LIMIT $3";

/// A page of history with, for 1:1 messages, the recipient's cursor.
fn history_sql(newest_first: bool) -> String {
    let (cmp, dir) = if newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    format!(
        "SELECT {MESSAGE_COLUMNS}, c.arrived_seq, c.read_seq
         FROM messages m
         LEFT JOIN cursors c ON m.chat_type = 0 AND c.conv = m.conv AND c.user_id = m.to_id
         WHERE m.conv = $1 AND m.conv_seq {cmp} $2
         ORDER BY m.conv_seq {dir}
         LIMIT $3"
    )
}

/// The message named by a receipt, if `reader` was one of its recipients; the reader's cursor
/// moves forward to it in the same statement.
const RECEIPT_SQL: &str = "
    WITH m AS (
        SELECT m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type, m.content,
               m.ts
        FROM messages m
        WHERE m.conv = $2 AND m.msg_id = $3 AND m.from_user <> $1
          AND CASE WHEN $5::bigint IS NULL THEN $1 IN ($6::bigint, $7::bigint)
                   ELSE EXISTS (SELECT 1 FROM members WHERE group_id = $5 AND user_id = $1)
              END
    ), moved AS (
        INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT $1, $2, conv_seq, CASE WHEN $4 THEN conv_seq ELSE 0 END FROM m
        ON CONFLICT (user_id, conv) DO UPDATE SET
            arrived_seq = greatest(cursors.arrived_seq, excluded.arrived_seq),
            read_seq = greatest(cursors.read_seq, excluded.read_seq)
    )
    SELECT msg_id, conv_seq, from_user, to_id, chat_type, msg_type, content, ts FROM m";

const STORE_SQL: &str = "
    SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
    FROM easyim_store_messages($1, $2, $3, $4, $5, $6, $7, $8)
    ORDER BY o_idx";

/// [`STORE_SQL`] that also writes each stored message's `message.created` event in the same
/// statement (so the same transaction), its data built as `easyim_core::message_created`
/// builds it.
const STORE_WITH_EVENTS_SQL: &str = "
    WITH s AS (
        SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
        FROM easyim_store_messages($1, $2, $3, $4, $5, $6, $7, $8)
    ), e AS (
        INSERT INTO outbox (kind, key, data, created_ms)
        SELECT 'message.created', x.c,
               jsonb_build_object(
                   'conversation', x.c,
                   'message', jsonb_build_object(
                       'id', x.id, 'conv_seq', s.o_conv_seq, 'from_user_id', x.f::text,
                       'to_id', x.t::text,
                       'chat_type', CASE WHEN x.g THEN 'group' ELSE 'single' END,
                       'msg_type', x.mt, 'content', x.ct, 'timestamp', x.ts),
                   'recipients', (SELECT coalesce(jsonb_agg(r::text ORDER BY r), '[]'::jsonb)
                                    FROM unnest(s.o_recipients) AS r))::text,
               x.ts
          FROM s
          JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bool[],
                      $6::int[], $7::text[], $8::bigint[])
               WITH ORDINALITY AS x (id, c, f, t, g, mt, ct, ts, i) ON x.i = s.o_idx
         WHERE s.o_outcome = 0
         ORDER BY s.o_idx
    )
    SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
    FROM s ORDER BY o_idx";

/// Turns the function's row for `msg` into its outcome.
pub(crate) fn store_outcome(msg: NewMessage, r: &Row) -> StoreOutcome {
    let outcome: i32 = r.get(1);
    match outcome {
        0 => {
            let recipients: Vec<i64> = r.get::<_, Option<Vec<i64>>>(6).unwrap_or_default();
            StoreOutcome::Stored {
                message: StoredMessage {
                    id: msg.id,
                    conv_seq: r.get::<_, i64>(2) as u64,
                    from: msg.from,
                    to: msg.to,
                    chat_type: msg.chat_type,
                    msg_type: msg.msg_type,
                    content: msg.content,
                    timestamp: msg.timestamp,
                },
                recipients: recipients.into_iter().map(|u| u as u64).collect(),
            }
        }
        1 => StoreOutcome::Duplicate(StoredMessage {
            id: msg.id,
            conv_seq: r.get::<_, i64>(2) as u64,
            from: msg.from,
            to: msg.to,
            chat_type: msg.chat_type,
            msg_type: r.get(3),
            content: r.get(4),
            timestamp: r.get(5),
        }),
        2 => StoreOutcome::NoUser,
        3 => StoreOutcome::NoGroup,
        4 => StoreOutcome::NotMember,
        _ => StoreOutcome::IdTaken,
    }
}

#[async_trait]
impl MessageStore for PgStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut out = self.store_messages(vec![msg]).await?;
        out.pop().ok_or_else(|| {
            StorageError::unavailable_msg("PostgreSQL returned no outcome for the message")
        })
    }

    /// Through the node's commit pipeline (`pipeline.rs`): one round trip and one transaction
    /// with the batches of other connections waiting at the same time (so a failed call
    /// stores none of the batch).
    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        self.pipeline.store(msgs).await
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        msg_id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>> {
        let (group, low, high): (Option<i64>, Option<i64>, Option<i64>) = match conv {
            Conversation::Direct { low, high } => (None, Some(id(low)), Some(id(high))),
            Conversation::Group(g) => (Some(id(g)), None, None),
        };
        let row = self
            .query_opt(
                RECEIPT_SQL,
                &[
                    &id(reader),
                    &conv.key(),
                    &msg_id,
                    &(receipt == Receipt::Read),
                    &group,
                    &low,
                    &high,
                ],
            )
            .await?;
        Ok(row.map(|r| message_row(&r, 0)))
    }

    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> Result<ReadOutcome> {
        record_read(self, reader, conv, at).await
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let found = self
            .query(PENDING_SQL, &[&id(user), &to_i64(after), &to_i64(limit)])
            .await?;
        Ok(rows(found, |r| PendingMessage {
            order: uid(r, 0),
            message: message_row(r, 1),
        }))
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (newest_first, bound) = match page {
            HistoryPage::Latest => (true, i64::MAX),
            HistoryPage::Before(s) => (true, to_i64(s)),
            HistoryPage::After(s) => (false, to_i64(s)),
        };
        let found = self
            .query(
                &history_sql(newest_first),
                &[&conv.key(), &bound, &to_i64(limit)],
            )
            .await?;
        Ok(rows(found, |r| {
            let message = message_row(r, 0);
            let seq = to_i64(message.conv_seq);
            let arrived: Option<i64> = r.get(8);
            let read: Option<i64> = r.get(9);
            let status = match (arrived, read) {
                (_, Some(read)) if read >= seq => MsgStatus::Read,
                (Some(arrived), _) if arrived >= seq => MsgStatus::Arrived,
                _ => MsgStatus::Sent,
            };
            HistoryItem { message, status }
        }))
    }
}

/// Stores `msgs` with one call of `easyim_store_messages`: one round trip, one transaction,
/// one row per message in order (deadlocks and serialization failures retried whole).
pub(crate) async fn store_rows(
    pool: &Pool,
    msgs: &[NewMessage],
    created: bool,
) -> Result<Vec<Row>, DbError> {
    let n = msgs.len();
    let mut ids = Vec::with_capacity(n);
    let mut convs = Vec::with_capacity(n);
    let mut from = Vec::with_capacity(n);
    let mut to = Vec::with_capacity(n);
    let mut group = Vec::with_capacity(n);
    let mut msg_type = Vec::with_capacity(n);
    let mut content = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    for m in msgs {
        ids.push(m.id.as_str());
        convs.push(m.conversation().key());
        from.push(id(m.from));
        to.push(id(m.to));
        group.push(m.chat_type == ChatType::Group);
        msg_type.push(m.msg_type);
        content.push(m.content.as_str());
        ts.push(m.timestamp);
    }
    let params: [&(dyn ToSql + Sync); 8] =
        [&ids, &convs, &from, &to, &group, &msg_type, &content, &ts];
    retrying(|| async {
        let client = pool.get().await?;
        let sql = if created {
            STORE_WITH_EVENTS_SQL
        } else {
            STORE_SQL
        };
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, &params).await?)
    })
    .await
}
