//! [`MessageStore`] for [`MysqlStorage`]: storing messages (through the commit pipeline),
//! receipts, pending messages, history and the messages each user hid.

use async_trait::async_trait;
use easyim_core::{
    Conversation, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, ReadAt,
    ReadOutcome, Receipt, StoreOutcome, StoredMessage, UserId,
};
use easyim_proto::MsgStatus;
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use crate::conversations::{record_read, takes_part};
use crate::error::Result;
use crate::rows::{
    exec_count, get, id, map_rows, message_row, rows_for, rows_in, to_i64, uid, vals,
    MESSAGE_COLUMNS,
};
use crate::{transaction, MysqlStorage};

/// The messages pending for a user, in `gseq` order. `STRAIGHT_JOIN` keeps the user's cursors
/// as the outer loop and the index is named: each cursor is then one range read of
/// `(conv, conv_seq)` from its position. Left to itself, MariaDB reads every message of each
/// conversation through `(conv, msg_id)` instead.
const PENDING_SQL: &str = "
    SELECT STRAIGHT_JOIN m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type,
           m.msg_type, m.content, m.ts, m.ref_id, m.recalled, m.edited_at
    FROM cursors c
    JOIN messages m FORCE INDEX (messages_seq)
      ON m.conv = c.conv AND m.conv_seq > c.arrived_seq
    WHERE c.user_id = ? AND m.gseq > ? AND m.from_user <> ?
    ORDER BY m.gseq
    LIMIT ?";

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
         WHERE m.conv = ? AND m.conv_seq {cmp} ?
         ORDER BY m.conv_seq {dir}
         LIMIT ?"
    )
}

#[async_trait]
impl MessageStore for MysqlStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        self.pipeline.store_one(msg).await
    }

    /// Through the node's commit pipeline (`pipeline.rs`): one transaction with the batches
    /// of other connections waiting at the same time (so a failed call stores none of the
    /// batch).
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
        let key = conv.key();
        let found = transaction!(self, |tx| {
            let row: Option<Row> = if takes_part(&mut tx, reader, conv).await? {
                tx.exec_first(
                    format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages m
                         WHERE m.conv = ? AND m.msg_id = ? AND m.from_user <> ?"
                    ),
                    vals![key.as_str(), msg_id, id(reader)],
                )
                .await?
            } else {
                None
            };
            match row.as_ref().map(|r| message_row(r, 0)).transpose()? {
                Some(m) => {
                    let seq = to_i64(m.conv_seq);
                    let read = if receipt == Receipt::Read { seq } else { 0 };
                    tx.exec_drop(
                        "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
                         VALUES (?, ?, ?, ?)
                         ON DUPLICATE KEY UPDATE
                             arrived_seq = GREATEST(arrived_seq, VALUES(arrived_seq)),
                             read_seq = GREATEST(read_seq, VALUES(read_seq))",
                        vals![id(reader), key.as_str(), seq, read],
                    )
                    .await?;
                    Some(m)
                }
                None => None,
            }
        })?;
        Ok(found)
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
            .rows(
                PENDING_SQL,
                vals![id(user), to_i64(after), id(user), to_i64(limit)],
            )
            .await?;
        Ok(map_rows(found, |r| {
            Ok(PendingMessage {
                order: uid(r, 0)?,
                message: message_row(r, 1)?,
            })
        })?)
    }

    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let key = conv.key();
        let n = transaction!(self, |tx| {
            let mut n = 0;
            for msg_id in ids {
                n += exec_count(
                    &mut tx,
                    "INSERT INTO hidden (user_id, conv, conv_seq)
                     SELECT ?, conv, conv_seq FROM messages WHERE conv = ? AND msg_id = ?
                     ON DUPLICATE KEY UPDATE conv_seq = hidden.conv_seq",
                    vals![id(user), key.as_str(), msg_id.as_str()],
                )
                .await?;
            }
            n
        })?;
        Ok(n)
    }

    /// One query (a chunk of pairs at a time) for the whole list page.
    async fn hidden_among(&self, user: UserId, lasts: &[(Conversation, u64)]) -> Result<Vec<bool>> {
        if lasts.is_empty() {
            return Ok(Vec::new());
        }
        let pairs: Vec<(String, i64)> = lasts.iter().map(|(c, s)| (c.key(), to_i64(*s))).collect();
        let found = {
            let mut conn = self.conn().await?;
            rows_for(
                &mut conn,
                "SELECT conv, conv_seq FROM hidden WHERE user_id = ? AND ({list})",
                "(conv = ? AND conv_seq = ?)",
                " OR ",
                &[Value::from(id(user))],
                pairs.iter().map(|(c, s)| vals![c.as_str(), *s]).collect(),
            )
            .await?
        };
        let hidden = map_rows(found, |r| Ok((get::<String>(r, 0)?, get::<i64>(r, 1)?)))?;
        Ok(pairs.iter().map(|p| hidden.contains(p)).collect())
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
        let found = {
            let mut conn = self.conn().await?;
            rows_in(
                &mut conn,
                "SELECT conv_seq FROM hidden WHERE user_id = ? AND conv = ? AND conv_seq IN ({list})",
                &[Value::from(id(user)), Value::from(conv.key())],
                &seqs,
            )
            .await?
        };
        let mut out = map_rows(found, |r| uid(r, 0))?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    async fn message(&self, conv: Conversation, msg_id: &str) -> Result<Option<StoredMessage>> {
        let row = self
            .row(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conv = ? AND m.msg_id = ?"
                ),
                vals![conv.key(), msg_id],
            )
            .await?;
        Ok(row.as_ref().map(|r| message_row(r, 0)).transpose()?)
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
            .rows(
                &history_sql(newest_first),
                vals![conv.key(), bound, to_i64(limit)],
            )
            .await?;
        Ok(map_rows(found, |r| {
            let message = message_row(r, 0)?;
            let seq = to_i64(message.conv_seq);
            let arrived: Option<i64> = get(r, 11)?;
            let read: Option<i64> = get(r, 12)?;
            let status = match (arrived, read) {
                (_, Some(read)) if read >= seq => MsgStatus::Read,
                (Some(arrived), _) if arrived >= seq => MsgStatus::Arrived,
                _ => MsgStatus::Sent,
            };
            Ok(HistoryItem { message, status })
        })?)
    }
}
