//! How one transaction stores a batch of messages (the batches of several connections,
//! gathered by the commit pipeline), exactly as its messages one after the other would be,
//! in a number of statements that does not grow with the messages but with their chunks.
//!
//! 1. What needs no lock: the recipients and the groups exist.
//! 2. The conversations' rows, made if new and locked in key order, so two batches never
//!    deadlock and writers of one conversation, on any node, are serialized until commit.
//! 3. Under the locks (`READ COMMITTED`: each statement sees what committed before it): the
//!    groups' members (a join that committed is seen, one still to come waits for the lock),
//!    and the ids already stored, then each message's outcome and `conv_seq`, in batch order.
//! 4. The new messages in one multi-row insert per chunk, in batch order (so `gseq` follows
//!    `conv_seq` within each conversation); each conversation's new `last_seq`; both cursors
//!    of a new 1:1 conversation; each sender's `own_seq`; the webhook events; and what a
//!    RECALL or EDIT changes in its target.

use std::collections::{HashMap, HashSet};

use easyim_core::recall::Amend;
use easyim_core::{EventKind, NewEvent, NewMessage, StoreOutcome, StoredMessage, SYSTEM_USER};
use easyim_proto::ChatType;
use mysql_async::prelude::Queryable;
use mysql_async::Transaction;

use crate::error::DbError;
use crate::outbox::insert_events;
use crate::rows::{exec_rows, get, id, message_row, rows_for, rows_in, vals, MESSAGE_COLUMNS};

/// Why a message is not stored before idempotency is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Open,
    NoUser,
    NoGroup,
    NotMember,
}

/// Sorted, without duplicates.
fn set<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Stores `msgs` inside `tx` and returns one outcome per message, in order; `wants` says
/// which webhook events to write with them.
pub(crate) async fn store(
    tx: &mut Transaction<'_>,
    msgs: &[NewMessage],
    wants: &(dyn Fn(EventKind) -> bool + Sync),
) -> Result<Vec<StoreOutcome>, DbError> {
    let convs: Vec<String> = msgs.iter().map(|m| m.conversation().key()).collect();
    let is_group = |m: &NewMessage| m.chat_type == ChatType::Group;

    // 1. Recipients and groups.
    let users = set(msgs
        .iter()
        .filter(|m| !is_group(m))
        .map(|m| id(m.to))
        .collect());
    let groups = set(msgs
        .iter()
        .filter(|m| is_group(m))
        .map(|m| id(m.to))
        .collect());
    let found_users = ids_found(tx, "SELECT id FROM users WHERE id IN ({list})", &users).await?;
    let found_groups = ids_found(
        tx,
        "SELECT id FROM chat_groups WHERE id IN ({list})",
        &groups,
    )
    .await?;
    let mut checks: Vec<Check> = msgs
        .iter()
        .map(|m| {
            if is_group(m) {
                if found_groups.contains(&id(m.to)) {
                    Check::Open
                } else {
                    Check::NoGroup
                }
            } else if found_users.contains(&id(m.to)) {
                Check::Open
            } else {
                Check::NoUser
            }
        })
        .collect();

    // 2. The conversations' locks, in key order.
    let keys = set((0..msgs.len())
        .filter(|&i| checks[i] == Check::Open)
        .map(|i| convs[i].clone())
        .collect());
    exec_rows(
        tx,
        "INSERT INTO convs (conv, last_seq) VALUES {list}
         ON DUPLICATE KEY UPDATE last_seq = last_seq",
        "(?, 0)",
        keys.iter().map(|k| vals![k.as_str()]).collect(),
    )
    .await?;
    let mut last: HashMap<String, i64> = HashMap::with_capacity(keys.len());
    for r in rows_in(
        tx,
        "SELECT conv, last_seq FROM convs WHERE conv IN ({list}) ORDER BY conv FOR UPDATE",
        &[],
        &keys,
    )
    .await?
    {
        last.insert(get(&r, 0)?, get(&r, 1)?);
    }

    // 3. Members, stored ids, and each message's outcome.
    let open_groups = set((0..msgs.len())
        .filter(|&i| checks[i] == Check::Open && is_group(&msgs[i]))
        .map(|i| id(msgs[i].to))
        .collect());
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in rows_in(
        tx,
        "SELECT group_id, user_id FROM members WHERE group_id IN ({list})
         ORDER BY group_id, user_id",
        &[],
        &open_groups,
    )
    .await?
    {
        members.entry(get(&r, 0)?).or_default().push(get(&r, 1)?);
    }
    for (i, m) in msgs.iter().enumerate() {
        if checks[i] == Check::Open && is_group(m) {
            // The system (the server API's sender) writes to any group.
            let in_group = m.from == SYSTEM_USER
                || members
                    .get(&id(m.to))
                    .is_some_and(|g| g.binary_search(&id(m.from)).is_ok());
            if !in_group {
                checks[i] = Check::NotMember;
            }
        }
    }
    let asked = set((0..msgs.len())
        .filter(|&i| checks[i] == Check::Open)
        .map(|i| (convs[i].as_str(), msgs[i].id.as_str()))
        .collect());
    let mut stored: HashMap<(String, String), StoredMessage> = HashMap::new();
    for r in rows_for(
        tx,
        &format!("SELECT {MESSAGE_COLUMNS}, m.conv FROM messages m WHERE {{list}}"),
        "(m.conv = ? AND m.msg_id = ?)",
        " OR ",
        &[],
        asked.iter().map(|(c, i)| vals![*c, *i]).collect(),
    )
    .await?
    {
        let message = message_row(&r, 0)?;
        stored.insert((get(&r, 11)?, message.id.clone()), message);
    }

    let mut out = Vec::with_capacity(msgs.len());
    // The first of each (conversation, id) stored by this batch: a later one is its duplicate.
    let mut firsts: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        let outcome = match checks[i] {
            Check::NoUser => StoreOutcome::NoUser,
            Check::NoGroup => StoreOutcome::NoGroup,
            Check::NotMember => StoreOutcome::NotMember,
            Check::Open => {
                let conv = convs[i].as_str();
                let earlier = stored
                    .get(&(conv.to_owned(), m.id.clone()))
                    .cloned()
                    .or_else(|| {
                        firsts
                            .get(&(conv, m.id.as_str()))
                            .and_then(|&j| match &out[j] {
                                StoreOutcome::Stored { message, .. } => Some(message.clone()),
                                _ => None,
                            })
                    });
                match earlier {
                    Some(e) if e.from == m.from => StoreOutcome::Duplicate(e),
                    Some(_) => StoreOutcome::IdTaken,
                    None => {
                        let seq = last.entry(conv.to_owned()).or_insert(0);
                        *seq += 1;
                        firsts.insert((conv, m.id.as_str()), i);
                        StoreOutcome::Stored {
                            message: StoredMessage {
                                id: m.id.clone(),
                                conv_seq: *seq as u64,
                                from: m.from,
                                to: m.to,
                                chat_type: m.chat_type,
                                msg_type: m.msg_type,
                                content: m.content.clone(),
                                timestamp: m.timestamp,
                                ref_id: m.ref_id.clone(),
                                recalled: false,
                                edited_at: 0,
                            },
                            recipients: if is_group(m) {
                                members
                                    .get(&id(m.to))
                                    .into_iter()
                                    .flatten()
                                    .filter(|&&u| u != id(m.from))
                                    .map(|&u| u as u64)
                                    .collect()
                            } else {
                                vec![m.to]
                            },
                        }
                    }
                }
            }
        };
        out.push(outcome);
    }
    write(tx, &convs, &out, wants).await?;
    Ok(out)
}

/// Step 4 of the module docs: writes what `out` stored.
async fn write(
    tx: &mut Transaction<'_>,
    convs: &[String],
    out: &[StoreOutcome],
    wants: &(dyn Fn(EventKind) -> bool + Sync),
) -> Result<(), DbError> {
    let new: Vec<(&str, &StoredMessage, &[u64])> = out
        .iter()
        .zip(convs)
        .filter_map(|(o, c)| match o {
            StoreOutcome::Stored {
                message,
                recipients,
            } => Some((c.as_str(), message, recipients.as_slice())),
            _ => None,
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    exec_rows(
        tx,
        "INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type, msg_type,
                               content, ts, ref_id) VALUES {list}",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        new.iter()
            .map(|(c, m, _)| {
                vals![
                    *c,
                    m.conv_seq as i64,
                    m.id.as_str(),
                    id(m.from),
                    id(m.to),
                    m.chat_type as i32,
                    m.msg_type,
                    m.content.as_str(),
                    m.timestamp,
                    m.ref_id.as_str()
                ]
            })
            .collect(),
    )
    .await?;
    let mut last: HashMap<&str, u64> = HashMap::new();
    let mut own: HashMap<(i64, &str), u64> = HashMap::new();
    let mut first_direct: Vec<(i64, &str)> = Vec::new();
    for &(c, m, _) in &new {
        let l = last.entry(c).or_default();
        *l = (*l).max(m.conv_seq);
        // The system is no member of the groups it writes to: it keeps no cursor there.
        if !(m.chat_type == ChatType::Group && m.from == SYSTEM_USER) {
            let o = own.entry((id(m.from), c)).or_default();
            *o = (*o).max(m.conv_seq);
        }
        if m.chat_type == ChatType::Single && m.conv_seq == 1 {
            first_direct.extend([(id(m.from), c), (id(m.to), c)]);
        }
    }
    exec_rows(
        tx,
        "INSERT INTO convs (conv, last_seq) VALUES {list}
         ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq)",
        "(?, ?)",
        set(last.into_iter().collect())
            .into_iter()
            .map(|(c, s)| vals![c, s as i64])
            .collect(),
    )
    .await?;
    // Both users get a cursor at 0 with the first message of a 1:1 conversation; later it
    // only moves forward. Then each sender's own_seq, once per sender and conversation (every
    // sender has a cursor by now: a group's members from their join, both users of a 1:1
    // conversation from its first message).
    exec_rows(
        tx,
        "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES {list}
         ON DUPLICATE KEY UPDATE user_id = user_id",
        "(?, ?, 0, 0)",
        set(first_direct)
            .into_iter()
            .map(|(u, c)| vals![u, c])
            .collect(),
    )
    .await?;
    exec_rows(
        tx,
        "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq, own_seq) VALUES {list}
         ON DUPLICATE KEY UPDATE own_seq = GREATEST(own_seq, VALUES(own_seq))",
        "(?, ?, 0, 0, ?)",
        set(own.into_iter().collect())
            .into_iter()
            .map(|((u, c), s)| vals![u, c, s as i64])
            .collect(),
    )
    .await?;
    let events: Vec<NewEvent> = new
        .iter()
        .filter(|(_, m, _)| wants(EventKind::of_message(m.msg_type)))
        .map(|(_, m, r)| easyim_core::message_created(m, r))
        .collect();
    insert_events(tx, &events).await?;
    for (c, m, _) in &new {
        match Amend::of(m.msg_type) {
            Some(Amend::Recall) => {
                tx.exec_drop(
                    "UPDATE messages SET recalled = TRUE, content = ''
                     WHERE conv = ? AND msg_id = ?",
                    vals![*c, m.ref_id.as_str()],
                )
                .await?
            }
            Some(Amend::Edit) => {
                tx.exec_drop(
                    "UPDATE messages SET content = ?, edited_at = ?
                     WHERE conv = ? AND msg_id = ? AND NOT recalled",
                    vals![m.content.as_str(), m.timestamp, *c, m.ref_id.as_str()],
                )
                .await?
            }
            None => {}
        }
    }
    Ok(())
}

/// Which of `ids` the query (an `IN ({list})` over them) finds.
async fn ids_found(
    tx: &mut Transaction<'_>,
    sql: &str,
    ids: &[i64],
) -> Result<HashSet<i64>, DbError> {
    rows_in(tx, sql, &[], ids)
        .await?
        .iter()
        .map(|r| get::<i64>(r, 0))
        .collect()
}
