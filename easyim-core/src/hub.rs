//! Who is online where, and delivery to their connections.
//!
//! The hub maps a user to its live connections (several devices per user). It is sharded by
//! user id, so delivery takes one short read lock per recipient and never a global lock. Each
//! connection writes to its bounded queue (`outbox`); a connection whose queue is full lags
//! rather than slowing anybody down: it takes no live chat frame until its session refilled it
//! from storage (what it missed stays pending there).
//! The hub reaches this node only: `delivery`'s router adds the other nodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use easyim_proto::Encoded;
use tokio_util::sync::CancellationToken;

use crate::outbox::Outgoing;
use crate::types::{Conversation, UserId};

const SHARDS: usize = 64;

/// Why a connection is being closed from outside its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    /// Its writer took no frame for `stall_timeout` while its queue was full.
    SlowConsumer,
    /// The user's tokens were revoked.
    Revoked,
}

/// The hub's view of one logged-in connection: its queue, and how to stop its session.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub(crate) id: u64,
    out: Outgoing,
    kick: CancellationToken,
    reason: OnceLock<Kick>,
}

impl ConnHandle {
    /// The handle of connection `id`, which writes to `out`.
    pub(crate) fn new(id: u64, out: Outgoing) -> Self {
        ConnHandle {
            id,
            out,
            kick: CancellationToken::new(),
            reason: OnceLock::new(),
        }
    }

    /// The connection's queue (the login replay writes to it directly).
    pub(crate) fn out(&self) -> &Outgoing {
        &self.out
    }

    /// Queues a live frame without waiting; a full queue makes the connection lag (see
    /// [`Outgoing::push`]).
    pub(crate) fn push(&self, frame: &Arc<Encoded>, key: Option<(Conversation, u64)>) {
        self.out.push(frame, key);
    }

    /// Queues one of the connection's own answers (an ack); never dropped.
    pub(crate) fn reply(&self, frame: &Arc<Encoded>) {
        self.out.reply(frame.clone());
    }

    /// Asks the session to stop; a slow consumer's writer stops at once too.
    pub(crate) fn kick(&self, why: Kick) {
        if self.reason.set(why).is_ok() {
            if why == Kick::SlowConsumer {
                self.out.abort();
            }
            self.kick.cancel();
        }
    }

    /// Resolves once the connection was kicked.
    pub(crate) async fn kicked(&self) {
        self.kick.cancelled().await
    }

    /// Why the connection was kicked, if it was.
    pub(crate) fn reason(&self) -> Option<Kick> {
        self.reason.get().copied()
    }
}

/// One shard of the hub: the connections of the users that hash to it.
type Shard = RwLock<HashMap<UserId, Vec<Arc<ConnHandle>>>>;

/// Live connections by user.
#[derive(Debug)]
pub(crate) struct Hub {
    shards: Box<[Shard]>,
    next_id: AtomicU64,
    /// How many revokes this hub ran: a login compares it before its token check and after
    /// its registration (see `session::login`).
    revocations: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            next_id: AtomicU64::new(1),
            revocations: AtomicU64::new(0),
        }
    }
}

impl Hub {
    fn shard(&self, user: UserId) -> &Shard {
        // Snowflake ids carry a sequence in their low bits; mix so shards fill evenly.
        let h = user.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
        &self.shards[h as usize % SHARDS]
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// How many revokes ran on this hub so far.
    pub(crate) fn revocations(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    /// Adds a connection of `user`; returns how many `user` has on this node now.
    pub(crate) fn register(&self, user: UserId, conn: Arc<ConnHandle>) -> usize {
        let mut shard = self.shard(user).write().unwrap_or_else(|e| e.into_inner());
        let list = shard.entry(user).or_default();
        list.push(conn);
        list.len()
    }

    /// Removes a connection of `user`; returns how many `user` has left on this node, or
    /// `None` if it had no such connection.
    pub(crate) fn unregister(&self, user: UserId, conn_id: u64) -> Option<usize> {
        let mut shard = self.shard(user).write().unwrap_or_else(|e| e.into_inner());
        let list = shard.get_mut(&user)?;
        let before = list.len();
        list.retain(|c| c.id != conn_id);
        let left = list.len();
        if left == 0 {
            shard.remove(&user);
        }
        (left < before).then_some(left)
    }

    /// The users with at least one connection on this node, at most `limit` of them.
    pub(crate) fn users(&self, limit: usize) -> Vec<UserId> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.keys().copied().take(limit.saturating_sub(out.len())));
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// Queues `frame` to every connection of each user in `users`, except connection `except`.
    /// Returns how many connections it was queued to.
    pub(crate) fn deliver(
        &self,
        users: &[UserId],
        frame: &Arc<Encoded>,
        key: Option<(Conversation, u64)>,
        except: Option<u64>,
    ) -> usize {
        let mut n = 0;
        for &user in users {
            let shard = self.shard(user).read().unwrap_or_else(|e| e.into_inner());
            if let Some(list) = shard.get(&user) {
                for c in list.iter().filter(|c| Some(c.id) != except) {
                    c.push(frame, key);
                    n += 1;
                }
            }
        }
        n
    }

    /// Kicks every connection of `user`. A revoke is counted before the connections are looked
    /// up, so a login registered too late to be found sees the count move.
    pub(crate) fn kick_user(&self, user: UserId, why: Kick) {
        if why == Kick::Revoked {
            self.revocations.fetch_add(1, Ordering::SeqCst);
        }
        let shard = self.shard(user).read().unwrap_or_else(|e| e.into_inner());
        for c in shard.get(&user).into_iter().flatten() {
            c.kick(why);
        }
    }

    /// How many users are online on this node, and with how many connections in all.
    pub(crate) fn totals(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(users, conns), shard| {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            (
                users + shard.len(),
                conns + shard.values().map(Vec::len).sum::<usize>(),
            )
        })
    }

    /// How many connections `user` has online on this node.
    pub(crate) fn online(&self, user: UserId) -> usize {
        let shard = self.shard(user).read().unwrap_or_else(|e| e.into_inner());
        shard.get(&user).map_or(0, Vec::len)
    }
}
