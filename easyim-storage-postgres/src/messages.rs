//! [`MessageStore`] for [`PgStorage`]: storing messages, receipts, pending messages and
//! history, each one statement.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use easyim_core::{
    Conversation, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, ReadAt,
    ReadOutcome, Receipt, StoreOutcome, StoredMessage, UserId,
};
use easyim_proto::{ChatType, MsgStatus, MsgType};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::conversations::record_read;
use crate::error::{DbError, Result};
use crate::rows::{id, message_row, rows, to_i64, uid, MESSAGE_COLUMNS};
use crate::{retrying, PgStorage};

const PENDING_SQL: &str = "
    SELECT m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
           m.content, m.ts, m.ref_id, m.recalled, m.edited_at
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
               m.ts, m.ref_id, m.recalled, m.edited_at
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
    SELECT msg_id, conv_seq, from_user, to_id, chat_type, msg_type, content, ts, ref_id,
           recalled, edited_at
    FROM m";

const STORE_SQL: &str = "
    SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
    FROM easyim_store_messages($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ORDER BY o_idx";

/// After a RECALL (6) or EDIT (7) is stored, in the same transaction: its target changed as
/// `easyim_core::recall::apply` says. $1 conversation key, $2 the target's id (`ref_id`),
/// $3 msg_type, $4 content, $5 timestamp.
const AMEND_SQL: &str = "
    UPDATE messages SET
        recalled = recalled OR $3 = 6,
        content = CASE WHEN $3 = 6 THEN '' ELSE $4 END,
        edited_at = CASE WHEN $3 = 7 THEN $5 ELSE edited_at END
    WHERE conv = $1 AND msg_id = $2 AND ($3 = 6 OR ($3 = 7 AND NOT recalled))";
/// [`STORE_SQL`] that also writes each stored message's event in the same statement (so the
/// same transaction): `message.recalled` for a RECALL, `message.edited` for an EDIT,
/// `message.created` for any other, if its kind is in $10; its data built as
/// `easyim_core::message_created` builds it.
const STORE_WITH_EVENTS_SQL: &str = "
    WITH s AS (
        SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
        FROM easyim_store_messages($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ), e AS (
        INSERT INTO outbox (kind, key, data, created_ms)
        SELECT x.kind, x.c,
               jsonb_build_object(
                   'conversation', x.c,
                   'message', jsonb_build_object(
                       'id', x.id, 'conv_seq', s.o_conv_seq, 'from_user_id', x.f::text,
                       'to_id', x.t::text,
                       'chat_type', CASE WHEN x.g THEN 'group' ELSE 'single' END,
                       'msg_type', x.mt, 'content', x.ct, 'timestamp', x.ts,
                       'ref_id', x.r),
                   'recipients', (SELECT coalesce(jsonb_agg(r::text ORDER BY r), '[]'::jsonb)
                                    FROM unnest(s.o_recipients) AS r))::text,
               x.ts
          FROM s
          JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bool[],
                      $6::int[], $7::text[], $8::bigint[], $9::text[])
               WITH ORDINALITY AS x0 (id, c, f, t, g, mt, ct, ts, r, i) ON x0.i = s.o_idx
          CROSS JOIN LATERAL (SELECT x0.*, CASE x0.mt WHEN 6 THEN 'message.recalled'
                                                      WHEN 7 THEN 'message.edited'
                                                      ELSE 'message.created' END AS kind) x
         WHERE s.o_outcome = 0 AND x.kind = ANY($10::text[])
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
                    ref_id: msg.ref_id,
                    recalled: false,
                    edited_at: 0,
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
            ref_id: msg.ref_id,
            recalled: false,
            edited_at: 0,
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
        self.pipeline.store_one(msg).await
    }

    /// Through the node's commit pipeline (`pipeline.rs`): one round trip and one transaction
    /// with the batches of other connections waiting at the same time (so a failed call
    /// stores none of the batch).
    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
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

    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64> {
        let n = self
            .execute(
                "INSERT INTO hidden (user_id, conv, conv_seq)
                 SELECT $1, conv, conv_seq FROM messages
                 WHERE conv = $2 AND msg_id = ANY($3::text[])
                 ON CONFLICT DO NOTHING",
                &[&id(user), &conv.key(), &ids],
            )
            .await?;
        Ok(n)
    }

    /// One query for the whole list page.
    async fn hidden_among(&self, user: UserId, lasts: &[(Conversation, u64)]) -> Result<Vec<bool>> {
        if lasts.is_empty() {
            return Ok(Vec::new());
        }
        let convs: Vec<String> = lasts.iter().map(|(c, _)| c.key()).collect();
        let seqs: Vec<i64> = lasts.iter().map(|&(_, s)| to_i64(s)).collect();
        let found = self
            .query(
                "SELECT x.i FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS x (c, s, i)
                 WHERE EXISTS (SELECT 1 FROM hidden h
                               WHERE h.user_id = $1 AND h.conv = x.c AND h.conv_seq = x.s)",
                &[&id(user), &convs, &seqs],
            )
            .await?;
        let mut out = vec![false; lasts.len()];
        for r in &found {
            let i: i64 = r.get(0);
            if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) {
                *slot = true;
            }
        }
        Ok(out)
    }

    async fn hidden_seqs(
        &self,
        user: UserId,
        conv: Conversation,
        seqs: &[u64],
    ) -> Result<Vec<u64>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<i64> = seqs.iter().map(|&s| to_i64(s)).collect();
        let found = self
            .query(
                "SELECT DISTINCT conv_seq FROM hidden
                 WHERE user_id = $1 AND conv = $2 AND conv_seq = ANY($3::bigint[])
                 ORDER BY conv_seq",
                &[&id(user), &conv.key(), &seqs],
            )
            .await?;
        Ok(found.iter().map(|r| uid(r, 0)).collect())
    }

    async fn message(&self, conv: Conversation, msg_id: &str) -> Result<Option<StoredMessage>> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE conv = $1 AND msg_id = $2");
        let row = self.query_opt(&sql, &[&conv.key(), &msg_id]).await?;
        Ok(row.map(|r| message_row(&r, 0)))
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
            let arrived: Option<i64> = r.get(11);
            let read: Option<i64> = r.get(12);
            let status = match (arrived, read) {
                (_, Some(read)) if read >= seq => MsgStatus::Read,
                (Some(arrived), _) if arrived >= seq => MsgStatus::Arrived,
                _ => MsgStatus::Sent,
            };
            HistoryItem { message, status }
        }))
    }
}

/// Stores `msgs` with one call of `easyim_store_messages` (references included; each stored
/// message's event too when its kind is in `kinds`), then applies each RECALL or
/// EDIT stored to its target: one transaction, one row per message in order (deadlocks and
/// serialization failures retried whole). A batch without RECALL or EDIT is one round trip.
pub(crate) async fn store_rows(
    pool: &Pool,
    msgs: &[NewMessage],
    kinds: &[&str],
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
    let mut refs = Vec::with_capacity(n);
    for m in msgs {
        ids.push(m.id.as_str());
        convs.push(m.conversation().key());
        from.push(id(m.from));
        to.push(id(m.to));
        group.push(m.chat_type == ChatType::Group);
        msg_type.push(m.msg_type);
        content.push(m.content.as_str());
        ts.push(m.timestamp);
        refs.push(m.ref_id.as_str());
    }
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![
        &ids, &convs, &from, &to, &group, &msg_type, &content, &ts, &refs,
    ];
    if !kinds.is_empty() {
        params.push(&kinds);
    }
    let amends = msgs.iter().any(|m| is_amend(m.msg_type));
    retrying(|| async {
        let mut client = pool.get().await?;
        let sql = if !kinds.is_empty() {
            STORE_WITH_EVENTS_SQL
        } else {
            STORE_SQL
        };
        if !amends {
            let stmt = client.prepare_cached(sql).await?;
            return Ok(client.query(&stmt, &params).await?);
        }
        let tx = client.transaction().await?;
        let found = tx.query(&tx.prepare_cached(sql).await?, &params).await?;
        let amend = tx.prepare_cached(AMEND_SQL).await?;
        for ((m, conv), r) in msgs.iter().zip(&convs).zip(&found) {
            if is_amend(m.msg_type) && r.get::<_, i32>(1) == 0 {
                let args: [&(dyn ToSql + Sync); 5] =
                    [conv, &m.ref_id, &m.msg_type, &m.content, &m.timestamp];
                tx.execute(&amend, &args).await?;
            }
        }
        tx.commit().await?;
        Ok(found)
    })
    .await
}

/// RECALL or EDIT, which change the message they name.
fn is_amend(msg_type: i32) -> bool {
    msg_type == MsgType::Recall as i32 || msg_type == MsgType::Edit as i32
}
