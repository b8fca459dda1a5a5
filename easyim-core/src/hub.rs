//! Who is online where, and delivery to their connections.
//!
//! The hub maps a user to its live connections (several devices per user). It is sharded by
//! user id, so delivery takes one short read lock per recipient and never a global lock. Each
//! connection has a bounded queue; a connection whose queue is full is closed rather than
//! allowed to slow anybody down (what it missed stays pending in storage).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use easyim_proto::Encoded;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::types::{Conversation, UserId};

const SHARDS: usize = 64;

/// Why a connection is being closed from outside its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    /// Its send queue overflowed.
    SlowConsumer,
    /// The user's tokens were revoked.
    Revoked,
}

/// A frame queued to a connection, with the conversation position of a chat message (used to
/// drop live deliveries that the login replay already carried).
pub(crate) type Queued = (Arc<Encoded>, Option<(Conversation, u64)>);

/// The hub's view of one logged-in connection.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub(crate) id: u64,
    tx: mpsc::Sender<Arc<Encoded>>,
    /// True until the login replay is done; meanwhile live deliveries wait in `held`, so that
    /// pending messages always come first.
    replaying: AtomicBool,
    held: Mutex<Vec<Queued>>,
    held_cap: usize,
    /// The highest `conv_seq` the login replay carried, by conversation; set when it ends. A
    /// message stored before the replay read it may reach the hub only after the replay ended
    /// (storing and delivering are two steps): without this it would be queued a second time.
    replayed: OnceLock<HashMap<Conversation, u64>>,
    kick: CancellationToken,
    abort: CancellationToken,
    reason: OnceLock<Kick>,
    metrics: Arc<Metrics>,
}

impl ConnHandle {
    pub(crate) fn new(
        id: u64,
        tx: mpsc::Sender<Arc<Encoded>>,
        held_cap: usize,
        kick: CancellationToken,
        abort: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> Self {
        ConnHandle {
            id,
            tx,
            replaying: AtomicBool::new(true),
            held: Mutex::new(Vec::new()),
            held_cap,
            replayed: OnceLock::new(),
            kick,
            abort,
            reason: OnceLock::new(),
            metrics,
        }
    }

    /// Queues a frame without waiting; a full queue closes the connection.
    pub(crate) fn push(&self, frame: &Arc<Encoded>, key: Option<(Conversation, u64)>) {
        if self.replaying.load(Ordering::Acquire) {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            // Re-check under the lock: the replay may have finished meanwhile, and then the
            // held frames are already in the queue ahead of this one.
            if self.replaying.load(Ordering::Acquire) {
                if held.len() >= self.held_cap {
                    drop(held);
                    self.kick(Kick::SlowConsumer);
                } else {
                    held.push((frame.clone(), key));
                }
                return;
            }
        }
        if self.was_replayed(key) {
            return;
        }
        self.send_now(frame.clone());
    }

    /// Whether the login replay already carried the message at `key`.
    fn was_replayed(&self, key: Option<(Conversation, u64)>) -> bool {
        key.is_some_and(|(conv, seq)| {
            self.replayed
                .get()
                .and_then(|r| r.get(&conv))
                .is_some_and(|&max| seq <= max)
        })
    }

    fn send_now(&self, frame: Arc<Encoded>) {
        match self.tx.try_send(frame) {
            Ok(()) => {
                self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.kick(Kick::SlowConsumer),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Ends the replay: queues what was held, less what the replay carried already
    /// (`replayed` maps a conversation to the highest `conv_seq` replayed), and goes live.
    pub(crate) fn finish_replay(&self, replayed: HashMap<Conversation, u64>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.replayed.set(replayed);
        for (frame, key) in held.drain(..) {
            if !self.was_replayed(key) {
                self.send_now(frame);
            }
        }
        self.replaying.store(false, Ordering::Release);
    }

    /// Asks the session to stop; a slow consumer's writer stops at once too.
    pub(crate) fn kick(&self, why: Kick) {
        if self.reason.set(why).is_ok() {
            if why == Kick::SlowConsumer {
                self.metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
                self.abort.cancel();
            }
            self.kick.cancel();
        }
    }

    /// Resolves once the connection was kicked.
    pub(crate) async fn kicked(&self) {
        self.kick.cancelled().await
    }

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
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            next_id: AtomicU64::new(1),
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

    pub(crate) fn register(&self, user: UserId, conn: Arc<ConnHandle>) {
        let mut shard = self.shard(user).write().unwrap_or_else(|e| e.into_inner());
        shard.entry(user).or_default().push(conn);
    }

    pub(crate) fn unregister(&self, user: UserId, conn_id: u64) {
        let mut shard = self.shard(user).write().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = shard.get_mut(&user) {
            list.retain(|c| c.id != conn_id);
            if list.is_empty() {
                shard.remove(&user);
            }
        }
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

    /// Kicks every connection of `user`.
    pub(crate) fn kick_user(&self, user: UserId, why: Kick) {
        let shard = self.shard(user).read().unwrap_or_else(|e| e.into_inner());
        for c in shard.get(&user).into_iter().flatten() {
            c.kick(why);
        }
    }

    /// How many connections `user` has online on this node.
    pub(crate) fn online(&self, user: UserId) -> usize {
        let shard = self.shard(user).read().unwrap_or_else(|e| e.into_inner());
        shard.get(&user).map_or(0, Vec::len)
    }
}
