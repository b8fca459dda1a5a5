//! A connection's outgoing queue: the [`Outbox`] its transport drains, and the [`Outgoing`]
//! side through which everything reaches it (the login answer, the replay, acks, errors,
//! deliveries).
//!
//! The queue is bounded (`SEND_QUEUE`). Live frames never wait for room: a full queue means a
//! peer that does not read, and it is dropped at once (what it missed stays pending in
//! storage). Only the login replay waits, since the peer is reading its backlog then.
//!
//! While the replay runs, live frames are held back, so that pending messages always come
//! first; when it ends, the held ones follow, less those the replay already carried.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use easyim_proto::{Encoded, Msg};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::types::Conversation;

/// A live frame, with the conversation position of a chat message (used to drop a delivery
/// that the login replay already carried).
type Queued = (Arc<Encoded>, Option<(Conversation, u64)>);

/// The queue was full (or, during the replay, the held frames were): a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// A connection's queue: the sending side for the session and the hub, the [`Outbox`] for
/// the transport. `capacity` is `SEND_QUEUE` (at least 1).
pub(crate) fn channel(capacity: usize, metrics: Arc<Metrics>) -> (Outgoing, Outbox) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let abort = CancellationToken::new();
    let out = Outgoing {
        tx,
        abort: abort.clone(),
        metrics,
        replaying: AtomicBool::new(true),
        held: Mutex::new(Vec::new()),
        held_cap: capacity,
        replayed: OnceLock::new(),
    };
    (out, Outbox { rx, abort })
}

/// The sending side of one connection's queue; the only writer of it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    tx: mpsc::Sender<Arc<Encoded>>,
    /// Tells the [`Outbox`] to stop at once (a slow consumer), dropping what is queued.
    abort: CancellationToken,
    metrics: Arc<Metrics>,
    /// True until the login replay is done; meanwhile live frames wait in `held`.
    replaying: AtomicBool,
    held: Mutex<Vec<Queued>>,
    held_cap: usize,
    /// The highest `conv_seq` the login replay carried, by conversation; set when it ends. A
    /// message stored before the replay read it may reach the hub only after the replay ended
    /// (storing and delivering are two steps): without this it would be queued a second time.
    replayed: OnceLock<HashMap<Conversation, u64>>,
}

impl Outgoing {
    /// Queues `msg` now, ahead of any held live frame (the login answer, errors before or
    /// during the login). Not counted if it could not be queued.
    pub(crate) fn send_msg(&self, msg: Msg) -> Result<(), Full> {
        self.send_now(Arc::new(Encoded::new(msg)))
    }

    /// Queues `frame` now, without waiting for room.
    fn send_now(&self, frame: Arc<Encoded>) -> Result<(), Full> {
        match self.tx.try_send(frame) {
            Ok(()) => {
                self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(Full),
            // The transport is gone: nobody reads any more, nothing to do.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
        }
    }

    /// Queues a frame of the login replay, waiting for room; false if the transport is gone.
    pub(crate) async fn send_waiting(&self, frame: Arc<Encoded>) -> bool {
        let sent = self.tx.send(frame).await.is_ok();
        if sent {
            self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queues a closing error during the replay, when live frames are still held back; waits
    /// up to `wait` for room, since the replay may have filled the queue.
    pub(crate) async fn last_word(&self, msg: Msg, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.tx.send(Arc::new(Encoded::new(msg)))).await;
    }

    /// Queues a live frame (a delivery, an ack, an answer) without waiting; held back while
    /// the login replay runs. `Err(Full)`: the connection must be dropped.
    pub(crate) fn push(
        &self,
        frame: &Arc<Encoded>,
        key: Option<(Conversation, u64)>,
    ) -> Result<(), Full> {
        if self.replaying.load(Ordering::Acquire) {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            // Re-check under the lock: the replay may have finished meanwhile, and then the
            // held frames are already in the queue ahead of this one.
            if self.replaying.load(Ordering::Acquire) {
                if held.len() >= self.held_cap {
                    return Err(Full);
                }
                held.push((frame.clone(), key));
                return Ok(());
            }
        }
        if self.was_replayed(key) {
            return Ok(());
        }
        self.send_now(frame.clone())
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

    /// Ends the replay: queues what was held, less what the replay carried already
    /// (`replayed` maps a conversation to the highest `conv_seq` replayed), and goes live.
    pub(crate) fn finish_replay(&self, replayed: HashMap<Conversation, u64>) -> Result<(), Full> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.replayed.set(replayed);
        let mut result = Ok(());
        for (frame, key) in held.drain(..) {
            if !self.was_replayed(key) {
                result = result.and(self.send_now(frame));
            }
        }
        self.replaying.store(false, Ordering::Release);
        result
    }

    /// Drops the connection as a slow consumer: the transport stops writing at once.
    pub(crate) fn abort(&self) {
        self.metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
        self.abort.cancel();
    }
}

/// What a transport writes to one peer: frames in order, until the connection is done.
#[derive(Debug)]
pub struct Outbox {
    rx: mpsc::Receiver<Arc<Encoded>>,
    abort: CancellationToken,
}

impl Outbox {
    /// The next frame to write, or `None` when the connection is done: its session ended and
    /// everything queued before was yielded, or the connection was dropped as a slow consumer
    /// (then at once, and what was queued is dropped: it stays pending in storage).
    pub async fn recv(&mut self) -> Option<Arc<Encoded>> {
        tokio::select! {
            biased;
            _ = self.abort.cancelled() => None,
            f = self.rx.recv() => f,
        }
    }

    /// The next frame if one is queued now (to batch writes), without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Encoded>> {
        if self.abort.is_cancelled() {
            return None;
        }
        self.rx.try_recv().ok()
    }

    /// Resolves when the connection must be dropped without writing more (a slow consumer).
    /// A writer blocked on a peer that does not read should select on this.
    pub async fn aborted(&self) {
        self.abort.cancelled().await
    }
}
