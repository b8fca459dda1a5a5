//! [`MessageStore`] for [`SqliteStorage`]: storing messages ([`store_one`]), receipts, pending
//! messages and history.

use async_trait::async_trait;
use easyim_core::recall::Amend;
use easyim_core::{
    Conversation, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, ReadAt,
    ReadOutcome, Receipt, StorageError, StoreOutcome, StoredMessage, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use rusqlite::{params, Connection, OptionalExtension};

use crate::cache::{Cache, ConvState};
use crate::conversations::record_read;
use crate::error::{DbError, Result};
use crate::rows::{
    conv_id, find_message, id, limit_i64, message_row, message_row_at, to_i64, MESSAGE_COLUMNS,
};
use crate::SqliteStorage;

/// Stores one message as [`MessageStore::store_message`] says, on the writer thread.
///
/// Its only write is the one INSERT of its row (a RECALL or EDIT also updates its target: see
/// [`store_amend`]) (besides, once per conversation, the
/// conversation's own row and cursors, which [`Cache::conv_or_create`] writes whole), so a
/// failure at any point leaves either the message stored or nothing of it: the caller needs
/// no savepoint. The sender's `own_seq` is noted in the cache and written once per sender and
/// conversation just before the transaction commits ([`Cache::flush_own`]).
fn store_one(c: &Connection, cache: &mut Cache, msg: NewMessage) -> Result<StoreOutcome, DbError> {
    let (from, to) = (id(msg.from), id(msg.to));
    let recipients = match msg.chat_type {
        ChatType::Single => {
            if !cache.user_exists(c, to)? {
                return Ok(StoreOutcome::NoUser);
            }
            vec![msg.to]
        }
        ChatType::Group => {
            let Some(members) = cache.group(c, to)? else {
                return Ok(StoreOutcome::NoGroup);
            };
            if msg.from != easyim_core::SYSTEM_USER && members.binary_search(&from).is_err() {
                return Ok(StoreOutcome::NotMember);
            }
            members
                .iter()
                .filter(|&&u| u != from)
                .map(|&u| u as u64)
                .collect()
        }
    };
    let conv = msg.conversation();
    let state = cache.conv_or_create(c, conv)?;
    let conv_seq = state.last_seq + 1;
    // The UNIQUE (conv, msg_id) index is the idempotency check: a known id inserts nothing.
    let inserted = c
        .prepare_cached(
            "INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type,
                                   msg_type, content, ts, ref_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (conv, msg_id) DO NOTHING",
        )?
        .execute(params![
            state.id,
            conv_seq,
            msg.id,
            from,
            to,
            msg.chat_type as i32,
            msg.msg_type,
            msg.content,
            msg.timestamp,
            msg.ref_id
        ])?;
    if inserted == 0 {
        let stored =
            find_message(c, state.id, &msg.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        return Ok(if stored.from == msg.from {
            StoreOutcome::Duplicate(stored)
        } else {
            StoreOutcome::IdTaken
        });
    }
    amend_target(c, state.id, &msg)?;
    cache.remember(
        conv,
        ConvState {
            id: state.id,
            last_seq: conv_seq,
        },
    );
    cache.sent(from, state.id, conv_seq);
    Ok(StoreOutcome::Stored {
        message: StoredMessage {
            id: msg.id,
            conv_seq: conv_seq as u64,
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
        recipients,
    })
}

/// Stores a RECALL or EDIT and applies it to its target inside a savepoint of its own: its two
/// writes (the INSERT and the target's UPDATE) take effect together or not at all.
fn store_amend(
    c: &Connection,
    cache: &mut Cache,
    msg: NewMessage,
) -> Result<StoreOutcome, DbError> {
    c.execute_batch("SAVEPOINT amend")?;
    match store_one(c, cache, msg) {
        Ok(outcome) => {
            c.execute_batch("RELEASE amend")?;
            Ok(outcome)
        }
        Err(e) => {
            cache.clear();
            c.execute_batch("ROLLBACK TO amend; RELEASE amend")?;
            Err(e)
        }
    }
}

/// Applies a newly stored RECALL or EDIT to its target, as [`easyim_core::recall::apply`]
/// says; [`store_amend`] makes it one step with the INSERT.
fn amend_target(c: &Connection, conv: i64, msg: &NewMessage) -> Result<(), DbError> {
    match Amend::of(msg.msg_type) {
        Some(Amend::Recall) => c
            .prepare_cached(
                "UPDATE messages SET recalled = 1, content = ''
                 WHERE conv = ?1 AND msg_id = ?2",
            )?
            .execute(params![conv, msg.ref_id])?,
        Some(Amend::Edit) => c
            .prepare_cached(
                "UPDATE messages SET content = ?3, edited_at = ?4
                 WHERE conv = ?1 AND msg_id = ?2 AND recalled = 0",
            )?
            .execute(params![conv, msg.ref_id, msg.content, msg.timestamp])?,
        None => 0,
    };
    Ok(())
}

/// The messages pending for a user, in `gseq` order. `CROSS JOIN` keeps the cursors as the
/// outer loop: each of the user's cursors is one range search on `(conv, conv_seq)`, instead of
/// a scan of all messages by `gseq`.
const PENDING_SQL: &str = "
    SELECT m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
           m.content, m.ts, m.ref_id, m.recalled, m.edited_at
    FROM cursors c CROSS JOIN messages m
      ON m.conv = c.conv AND m.conv_seq > c.arrived_seq
    WHERE c.user_id = ?1 AND m.gseq > ?2 AND m.from_user <> ?1
    ORDER BY m.gseq
    LIMIT ?3";

#[async_trait]
impl MessageStore for SqliteStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut out = self.store_messages(vec![msg]).await?;
        out.pop()
            .ok_or_else(|| StorageError::unavailable_msg("the SQLite write returned nothing"))
    }

    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        // One job, no savepoint: each message is atomic on its own (see `store_one`), and if
        // one fails the call fails with those before it stored, as the contract allows. With
        // `message.created` (or `.recalled`, `.edited`) events on, each message is two INSERTs
        // (its row, its event): the job then runs in a savepoint, so that a failure keeps
        // neither half.
        use easyim_core::EventKind;
        let wanted = [
            EventKind::MessageCreated,
            EventKind::MessageRecalled,
            EventKind::MessageEdited,
        ]
        .map(|k| self.events.wants(k));
        let wants = move |k: EventKind| match k {
            EventKind::MessageRecalled => wanted[1],
            EventKind::MessageEdited => wanted[2],
            _ => wanted[0],
        };
        self.write_with(wanted.contains(&true), move |c, cache| {
            msgs.into_iter()
                .map(|m| {
                    let out = match Amend::of(m.msg_type) {
                        Some(_) => store_amend(c, cache, m)?,
                        None => store_one(c, cache, m)?,
                    };
                    if let StoreOutcome::Stored {
                        message,
                        recipients,
                    } = &out
                    {
                        if wants(EventKind::of_message(message.msg_type)) {
                            let event = easyim_core::message_created(message, recipients);
                            crate::outbox::insert_event(c, &event)?;
                        }
                    }
                    Ok(out)
                })
                .collect()
        })
        .await
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        msg_id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>> {
        let msg_id = msg_id.to_owned();
        self.write_with(true, move |c, cache| {
            let Some(state) = cache.conv(c, conv)? else {
                return Ok(None);
            };
            let Some(msg) = find_message(c, state.id, &msg_id)? else {
                return Ok(None);
            };
            let recipient = msg.from != reader
                && match conv {
                    Conversation::Direct { low, high } => reader == low || reader == high,
                    Conversation::Group(g) => cache
                        .group(c, id(g))?
                        .is_some_and(|m| m.binary_search(&id(reader)).is_ok()),
                };
            if !recipient {
                return Ok(None);
            }
            let seq = to_i64(msg.conv_seq);
            let read = if receipt == Receipt::Read { seq } else { 0 };
            c.prepare_cached(
                "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, conv) DO UPDATE SET
                     arrived_seq = max(arrived_seq, excluded.arrived_seq),
                     read_seq = max(read_seq, excluded.read_seq)",
            )?
            .execute(params![id(reader), state.id, seq, read])?;
            Ok(Some(msg))
        })
        .await
    }

    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> Result<ReadOutcome> {
        self.write_with(true, move |c, cache| {
            record_read(c, cache, reader, conv, at)
        })
        .await
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |c| {
            let mut stmt = c.prepare_cached(PENDING_SQL)?;
            let rows = stmt.query_map(params![id(user), to_i64(after), limit_i64(limit)], |r| {
                Ok(PendingMessage {
                    order: r.get::<_, i64>(0)? as u64,
                    message: message_row_at(r, 1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64> {
        let ids = ids.to_vec();
        self.write(move |c| {
            let Some(key) = conv_id(c, &conv.key())? else {
                return Ok(0);
            };
            let mut stmt = c.prepare_cached(
                "INSERT INTO hidden (user_id, conv, conv_seq)
                 SELECT ?1, conv, conv_seq FROM messages WHERE conv = ?2 AND msg_id = ?3
                 ON CONFLICT DO NOTHING",
            )?;
            let mut n = 0;
            for msg_id in &ids {
                n += stmt.execute(params![id(user), key, msg_id])? as u64;
            }
            Ok(n)
        })
        .await
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
        let seqs = seqs.to_vec();
        self.read(move |c| {
            let Some(key) = conv_id(c, &conv.key())? else {
                return Ok(Vec::new());
            };
            let mut stmt = c.prepare_cached(
                "SELECT 1 FROM hidden WHERE user_id = ?1 AND conv = ?2 AND conv_seq = ?3",
            )?;
            let mut out = Vec::new();
            for &s in &seqs {
                if stmt.exists(params![id(user), key, to_i64(s)])? {
                    out.push(s);
                }
            }
            out.sort_unstable();
            out.dedup();
            Ok(out)
        })
        .await
    }

    /// One read for the whole list page.
    async fn hidden_among(&self, user: UserId, lasts: &[(Conversation, u64)]) -> Result<Vec<bool>> {
        if lasts.is_empty() {
            return Ok(Vec::new());
        }
        let lasts = lasts.to_vec();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT 1 FROM hidden WHERE user_id = ?1 AND conv = ?2 AND conv_seq = ?3",
            )?;
            let mut out = Vec::with_capacity(lasts.len());
            for (conv, seq) in &lasts {
                out.push(match conv_id(c, &conv.key())? {
                    Some(key) => stmt.exists(params![id(user), key, to_i64(*seq)])?,
                    None => false,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn message(&self, conv: Conversation, msg_id: &str) -> Result<Option<StoredMessage>> {
        let msg_id = msg_id.to_owned();
        self.read(move |c| {
            let Some(key) = conv_id(c, &conv.key())? else {
                return Ok(None);
            };
            Ok(find_message(c, key, &msg_id)?)
        })
        .await
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
        self.read(move |c| {
            let Some(key) = conv_id(c, &conv.key())? else {
                return Ok(Vec::new());
            };
            let limit = limit_i64(limit);
            let (sql, bound) = match page {
                HistoryPage::Latest => ("AND conv_seq < ?2 ORDER BY conv_seq DESC", i64::MAX),
                HistoryPage::Before(s) => ("AND conv_seq < ?2 ORDER BY conv_seq DESC", to_i64(s)),
                HistoryPage::After(s) => ("AND conv_seq > ?2 ORDER BY conv_seq ASC", to_i64(s)),
            };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 {sql} LIMIT ?3"
            ))?;
            let messages = stmt
                .query_map(params![key, bound, limit], message_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // 1:1: each message's status is how far its recipient's cursor has got.
            let mut cursors: Vec<(u64, i64, i64)> = Vec::new();
            if let Conversation::Direct { low, high } = conv {
                let mut stmt = c.prepare_cached(
                    "SELECT arrived_seq, read_seq FROM cursors WHERE user_id = ?1 AND conv = ?2",
                )?;
                for user in [low, high] {
                    if let Some((a, r)) = stmt
                        .query_row(params![id(user), key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?
                    {
                        cursors.push((user, a, r));
                    }
                }
            }
            Ok(messages
                .into_iter()
                .map(|message| {
                    let seq = to_i64(message.conv_seq);
                    let status = match cursors.iter().find(|(u, _, _)| *u == message.to) {
                        Some(&(_, _, read)) if read >= seq => MsgStatus::Read,
                        Some(&(_, arrived, _)) if arrived >= seq => MsgStatus::Arrived,
                        _ => MsgStatus::Sent,
                    };
                    HistoryItem { message, status }
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Synchronous;
    use crate::schema::open_writer;

    #[test]
    fn pending_query_uses_indexes() {
        let dir = tempfile::TempDir::new().unwrap();
        let conn = open_writer(&dir.path().join("eqp.db"), Synchronous::Normal).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PENDING_SQL}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params![1, 0, 10], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        println!("{plan}");
        assert!(!plan.contains("SCAN"), "pending scans a table:\n{plan}");
        assert!(plan.contains("SEARCH c USING PRIMARY KEY"), "{plan}");
        assert!(plan.contains("SEARCH m USING INDEX"), "{plan}");
    }
}
