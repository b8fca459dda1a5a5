//! [`Cache`]: what the writer thread remembers of the database.

use std::collections::{HashMap, HashSet};

use easyim_core::Conversation;
use rusqlite::Connection;

use crate::rows::{conv_id, group_exists, id, user_exists};
use crate::writer::exec;

/// The most conversations, users and group members the writer's [`Cache`] remembers (each
/// part is emptied when it reaches its bound, and refills from the database as needed).
const CACHE_CONVS: usize = 1 << 18;
const CACHE_USERS: usize = 1 << 20;
const CACHE_MEMBERS: usize = 1 << 20;

/// A conversation as the writer knows it: its row in `convs` and its last `conv_seq`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvState {
    pub(crate) id: i64,
    pub(crate) last_seq: i64,
}

/// What the writer thread remembers of the database, so that storing a message needs no
/// lookup but the idempotency check (which its INSERT does).
///
/// Coherent because the writer's connection is the only one of this process that writes: the
/// writer's own jobs keep it up to date (within the open transaction, which is what they must
/// see), anything that undoes writes empties it (`writer::run_batch`), and so does a commit by
/// any other connection (another process on the same file), seen through `PRAGMA data_version`
/// at the start of each transaction. It only holds facts that stay true until the writer changes
/// them: users are never deleted, messages are never deleted (so a conversation's last
/// `conv_seq` is the largest one stored), and membership changes drop the group's entry.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Conversations that have a row in `convs` (for a 1:1 one, with both users' cursors).
    convs: HashMap<Conversation, ConvState>,
    /// Users known to exist.
    users: HashSet<i64>,
    /// Groups known to exist, with their members, sorted.
    groups: HashMap<i64, Vec<i64>>,
    /// How many members `groups` holds in all.
    members: usize,
    /// `PRAGMA data_version` when last seen.
    data_version: Option<i64>,
    /// The newest `conv_seq` each (sender, conversation id) stored in the open transaction:
    /// written to `cursors.own_seq` once each just before the commit ([`Cache::flush_own`]),
    /// so that a batch of messages costs one UPDATE per sender and conversation instead of one
    /// per message. Not emptied by [`Cache::clear`] (the messages of a failed job that ran
    /// before its failure stay in the transaction, and so must this); emptied when the
    /// transaction ends.
    own: HashMap<(i64, i64), i64>,
}

impl Cache {
    pub(crate) fn clear(&mut self) {
        self.convs.clear();
        self.users.clear();
        self.groups.clear();
        self.members = 0;
    }

    /// Empties the cache if another connection committed since the writer last looked.
    pub(crate) fn check_data_version(&mut self, c: &Connection) -> rusqlite::Result<()> {
        let v: i64 = c
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.data_version != Some(v) {
            if self.data_version.is_some() {
                tracing::debug!("another connection wrote to the database: cache emptied");
            }
            self.clear();
            self.data_version = Some(v);
        }
        Ok(())
    }

    pub(crate) fn user_exists(&mut self, c: &Connection, user: i64) -> rusqlite::Result<bool> {
        if self.users.contains(&user) {
            return Ok(true);
        }
        let found = user_exists(c, user)?;
        if found {
            if self.users.len() >= CACHE_USERS {
                self.users.clear();
            }
            self.users.insert(user);
        }
        Ok(found)
    }

    /// The members of `group`, sorted, or `None` if there is no such group.
    pub(crate) fn group(&mut self, c: &Connection, group: i64) -> rusqlite::Result<Option<&[i64]>> {
        if !self.groups.contains_key(&group) {
            if !group_exists(c, group)? {
                return Ok(None);
            }
            let members = c
                .prepare_cached("SELECT user_id FROM members WHERE group_id = ?1 ORDER BY user_id")?
                .query_map([group], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if self.members + members.len() > CACHE_MEMBERS {
                self.groups.clear();
                self.members = 0;
            }
            self.members += members.len();
            self.groups.insert(group, members);
        }
        Ok(self.groups.get(&group).map(Vec::as_slice))
    }

    /// Forgets a group whose members change.
    pub(crate) fn forget_group(&mut self, group: i64) {
        if let Some(members) = self.groups.remove(&group) {
            self.members -= members.len();
        }
    }

    /// The conversation's state, if it has a row in `convs`.
    pub(crate) fn conv(
        &mut self,
        c: &Connection,
        conv: Conversation,
    ) -> rusqlite::Result<Option<ConvState>> {
        if let Some(&state) = self.convs.get(&conv) {
            return Ok(Some(state));
        }
        let Some(conv_id) = conv_id(c, &conv.key())? else {
            return Ok(None);
        };
        let last_seq: i64 = c
            .prepare_cached("SELECT coalesce(max(conv_seq), 0) FROM messages WHERE conv = ?1")?
            .query_row([conv_id], |r| r.get(0))?;
        let state = ConvState {
            id: conv_id,
            last_seq,
        };
        self.remember(conv, state);
        Ok(Some(state))
    }

    /// The conversation's state, giving it a row in `convs` (and, for a 1:1 conversation,
    /// both users a cursor at 0) if it has none yet.
    pub(crate) fn conv_or_create(
        &mut self,
        c: &Connection,
        conv: Conversation,
    ) -> rusqlite::Result<ConvState> {
        if let Some(state) = self.conv(c, conv)? {
            return Ok(state);
        }
        // Rare (once per conversation), and the only write of a message besides its own row:
        // its own savepoint keeps it whole even in a job that runs without one.
        exec(c, "SAVEPOINT conv")?;
        let created = (|| {
            let conv_id: i64 = c
                .prepare_cached("INSERT INTO convs (key) VALUES (?1) RETURNING id")?
                .query_row([conv.key()], |r| r.get(0))?;
            if let Conversation::Direct { low, high } = conv {
                let mut cursor = c.prepare_cached(
                    "INSERT OR IGNORE INTO cursors (user_id, conv, arrived_seq, read_seq)
                     VALUES (?1, ?2, 0, 0)",
                )?;
                cursor.execute([id(low), conv_id])?;
                cursor.execute([id(high), conv_id])?;
            }
            Ok(conv_id)
        })();
        let conv_id = match created {
            Ok(conv_id) => {
                exec(c, "RELEASE conv")?;
                conv_id
            }
            Err(e) => {
                if !c.is_autocommit() {
                    let _ = exec(c, "ROLLBACK TO conv");
                    let _ = exec(c, "RELEASE conv");
                }
                return Err(e);
            }
        };
        let state = ConvState {
            id: conv_id,
            last_seq: 0,
        };
        self.remember(conv, state);
        Ok(state)
    }

    /// `user` stored the message `seq` of conversation `conv` (an id of `convs`) in the open
    /// transaction.
    pub(crate) fn sent(&mut self, user: i64, conv: i64, seq: i64) {
        let at = self.own.entry((user, conv)).or_insert(seq);
        *at = (*at).max(seq);
    }

    /// The newest `conv_seq` `user` stored in `conv` in the open transaction and not yet
    /// written to its cursor.
    pub(crate) fn unflushed_own(&self, user: i64, conv: i64) -> Option<i64> {
        self.own.get(&(user, conv)).copied()
    }

    /// Writes what [`Cache::sent`] gathered to the cursors, in the open transaction.
    pub(crate) fn flush_own(&mut self, c: &Connection) -> rusqlite::Result<()> {
        if self.own.is_empty() {
            return Ok(());
        }
        let mut stmt = c.prepare_cached(
            "UPDATE cursors SET own_seq = max(own_seq, ?3) WHERE user_id = ?1 AND conv = ?2",
        )?;
        for (&(user, conv), &seq) in &self.own {
            stmt.execute([user, conv, seq])?;
        }
        self.own.clear();
        Ok(())
    }

    /// Forgets what [`Cache::sent`] gathered: the transaction was rolled back.
    pub(crate) fn discard_own(&mut self) {
        self.own.clear();
    }

    pub(crate) fn remember(&mut self, conv: Conversation, state: ConvState) {
        if self.convs.len() >= CACHE_CONVS {
            self.convs.clear();
        }
        self.convs.insert(conv, state);
    }
}
