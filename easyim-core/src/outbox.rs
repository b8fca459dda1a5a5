//! A connection's outgoing queue: the [`Outbox`] its transport drains, and the [`Outgoing`]
//! side through which everything reaches it (the login answer, the replay, acks, errors,
//! deliveries).
//!
//! The queue holds `SEND_QUEUE` live frames, plus a reserve for the connection's own replies:
//!
//! - a live chat delivery that finds `SEND_QUEUE` frames waiting is not queued: the connection
//!   is marked *lagging* and takes no more live chat frames (they stay pending in storage). Its
//!   session then waits for the queue to drain to half and refills it from storage, like the
//!   login replay, before it goes live again ([`Outgoing::start_refill`]);
//! - a notice or receipt (not in storage) that finds the queue full, or the connection lagging
//!   with its refill's held frames full, is dropped;
//! - the connection's own replies (acks, errors, heartbeat answers) are never dropped: they use
//!   the reserve, and past it a spill list the writer drains after the queue; the session reads
//!   no more frames from its peer until they are written (TCP backpressure);
//! - a connection whose writer takes no frame for `stall_timeout` while the session waits for
//!   room is closed as a slow consumer (its messages stay pending).
//!
//! While a refill runs (the login replay is the first), live frames are held back, so that
//! pending messages come first; when it ends, the held ones follow, less those the refill
//! carried. Per conversation, the highest `conv_seq` queued to the connection is kept, so that
//! no message is queued twice and each conversation's messages go out in increasing order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use easyim_proto::{Encoded, Msg};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::types::Conversation;

/// A live frame, with the conversation position of a chat message.
type Queued = (Arc<Encoded>, Option<(Conversation, u64)>);

/// How many places of the queue are kept for the connection's own replies: one storage batch's
/// answers (64) and one more frame, with a margin.
pub(crate) const RESERVE: usize = 72;

/// A connection's queue: the sending side for the session and the hub, the [`Outbox`] for
/// the transport. `capacity` is `SEND_QUEUE` (at least 1).
pub(crate) fn channel(capacity: usize, metrics: Arc<Metrics>) -> (Outgoing, Outbox) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity + RESERVE);
    let abort = CancellationToken::new();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            refilling: true,
            held: Vec::new(),
            missed: false,
            lagging: false,
            sent: HashMap::new(),
            spill: VecDeque::new(),
        }),
        taken: AtomicU64::new(0),
        progress: Notify::new(),
        lag: Notify::new(),
    });
    let out = Outgoing {
        tx,
        abort: abort.clone(),
        metrics,
        shared: shared.clone(),
        capacity,
    };
    (out, Outbox { rx, abort, shared })
}

/// What the sending side and the [`Outbox`] share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// How many frames the writer took; it moves while the peer reads.
    taken: AtomicU64,
    /// Signalled whenever the writer takes a frame (the session waits on it for room).
    progress: Notify,
    /// Signalled when the connection starts lagging (its session refills it).
    lag: Notify,
}

#[derive(Debug)]
struct State {
    /// A refill (the login replay first) is running: live frames wait in `held`.
    refilling: bool,
    held: Vec<Queued>,
    /// A live chat frame did not fit in `held`: the refill must read storage again.
    missed: bool,
    /// A live chat frame found the queue full: no live chat frame is queued until a refill.
    lagging: bool,
    /// The highest `conv_seq` queued, by conversation.
    sent: HashMap<Conversation, u64>,
    /// Own replies that found the whole queue full; the writer takes them after the queue.
    spill: VecDeque<Arc<Encoded>>,
}

impl State {
    /// Whether the message at `key` was queued already (or a later one of its conversation).
    fn was_sent(&self, key: Option<(Conversation, u64)>) -> bool {
        key.is_some_and(|(conv, seq)| self.sent.get(&conv).is_some_and(|&max| seq <= max))
    }

    fn mark_sent(&mut self, key: Option<(Conversation, u64)>) {
        if let Some((conv, seq)) = key {
            let max = self.sent.entry(conv).or_default();
            *max = (*max).max(seq);
        }
    }
}

/// The sending side of one connection's queue; the only writer of it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    tx: mpsc::Sender<Arc<Encoded>>,
    /// Tells the [`Outbox`] to stop at once (a slow consumer), dropping what is queued.
    abort: CancellationToken,
    metrics: Arc<Metrics>,
    shared: Arc<Shared>,
    /// `SEND_QUEUE`: how many live frames may wait.
    capacity: usize,
}

impl Outgoing {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a live frame fits: fewer than `SEND_QUEUE` frames wait, and no reply is spilled.
    fn live_room(&self, st: &State) -> bool {
        st.spill.is_empty() && self.tx.capacity() > RESERVE
    }

    /// Queues `frame` now; false if the queue is full. The transport being gone counts as
    /// queued (nobody reads any more).
    fn try_queue(&self, frame: Arc<Encoded>) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => {
                self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => false,
            Err(mpsc::error::TrySendError::Closed(_)) => true,
        }
    }

    /// Queues one of the connection's own answers (the login answer, an ack, an error, a
    /// heartbeat answer), ahead of any held live frame. Never dropped: past the queue it waits
    /// in the spill list, and the session reads no more frames until it is written.
    pub(crate) fn reply(&self, frame: Arc<Encoded>) {
        let mut st = self.state();
        if st.spill.is_empty() {
            match self.tx.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(f)) => st.spill.push_back(f),
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        } else {
            st.spill.push_back(frame);
        }
        self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
    }

    /// [`Outgoing::reply`] for a message not encoded yet.
    pub(crate) fn reply_msg(&self, msg: Msg) {
        self.reply(Arc::new(Encoded::new(msg)));
    }

    /// Queues a live frame (a delivery, a receipt, a notice) without waiting; held back while
    /// a refill runs. A chat frame that does not fit makes the connection lag (it stays pending
    /// in storage and a refill brings it); a notice that does not fit is dropped.
    pub(crate) fn push(&self, frame: &Arc<Encoded>, key: Option<(Conversation, u64)>) {
        let mut st = self.state();
        if st.was_sent(key) {
            return;
        }
        if st.refilling {
            if st.held.len() < self.capacity {
                st.held.push((frame.clone(), key));
            } else if key.is_some() {
                st.missed = true;
            }
            return;
        }
        if key.is_some() && st.lagging {
            return;
        }
        if self.live_room(&st) && self.try_queue(frame.clone()) {
            st.mark_sent(key);
        } else if key.is_some() {
            st.lagging = true;
            self.shared.lag.notify_one();
        }
    }

    /// Whether the connection lags: live chat frames were skipped and a refill is due.
    pub(crate) fn lagging(&self) -> bool {
        self.state().lagging
    }

    /// Resolves when the connection may have started lagging.
    pub(crate) async fn lag_signal(&self) {
        self.shared.lag.notified().await
    }

    /// Starts a refill: live frames are held from now on, and the connection no longer lags.
    pub(crate) fn start_refill(&self) {
        let mut st = self.state();
        st.refilling = true;
        st.lagging = false;
        st.missed = false;
    }

    /// Whether a refill should queue the pending message at `key`: false if it was queued
    /// already. Marks it queued.
    pub(crate) fn refill_wants(&self, key: (Conversation, u64)) -> bool {
        let mut st = self.state();
        if st.was_sent(Some(key)) {
            return false;
        }
        st.mark_sent(Some(key));
        true
    }

    /// Queues a frame of a refill once fewer than `SEND_QUEUE` frames wait: `Some(true)`, or
    /// `Some(false)` if the transport is gone. `None` once the writer took nothing for `stall`
    /// (the frame is not queued).
    pub(crate) async fn send_refill(
        &self,
        frame: Arc<Encoded>,
        stall: std::time::Duration,
    ) -> Option<bool> {
        self.wait_room(RESERVE + 1, stall).await?;
        if self.tx.is_closed() {
            return Some(false);
        }
        self.try_queue(frame);
        Some(true)
    }

    /// Ends a refill. If live chat frames were missed meanwhile, returns false: the refill must
    /// read storage again (live frames stay held). Otherwise queues what was held, less what
    /// the refill carried, and goes live (lagging again if the queue is full).
    pub(crate) fn finish_refill(&self) -> bool {
        let mut st = self.state();
        if st.missed {
            st.missed = false;
            st.held.clear();
            return false;
        }
        let held = std::mem::take(&mut st.held);
        st.refilling = false;
        for (frame, key) in held {
            if st.was_sent(key) || (key.is_some() && st.lagging) {
                continue;
            }
            if self.live_room(&st) && self.try_queue(frame) {
                st.mark_sent(key);
            } else if key.is_some() {
                st.lagging = true;
            }
        }
        if st.lagging {
            self.shared.lag.notify_one();
        }
        true
    }

    /// Waits until at least `free` places of the queue are free and no reply is spilled.
    /// `None` if the writer took no frame for `stall` meanwhile: the peer reads nothing.
    pub(crate) async fn wait_room(&self, free: usize, stall: std::time::Duration) -> Option<()> {
        let mut last = self.shared.taken.load(Ordering::Acquire);
        let mut deadline = tokio::time::Instant::now() + stall;
        loop {
            let notified = self.shared.progress.notified();
            if self.tx.is_closed() {
                return Some(());
            }
            if self.tx.capacity() >= free && self.state().spill.is_empty() {
                return Some(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let now = self.shared.taken.load(Ordering::Acquire);
                if now == last {
                    return None;
                }
            }
            let now = self.shared.taken.load(Ordering::Acquire);
            if now != last {
                last = now;
                deadline = tokio::time::Instant::now() + stall;
            }
        }
    }

    /// Waits until the queue holds at most half of `SEND_QUEUE` (a lagging connection's
    /// refill starts then). `None` if the writer took no frame for `stall` meanwhile.
    pub(crate) async fn wait_drained(&self, stall: std::time::Duration) -> Option<()> {
        self.wait_room(RESERVE + self.capacity.div_ceil(2), stall)
            .await
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
    shared: Arc<Shared>,
}

impl Outbox {
    fn took(&self, f: Arc<Encoded>) -> Arc<Encoded> {
        self.shared.taken.fetch_add(1, Ordering::AcqRel);
        self.shared.progress.notify_one();
        f
    }

    /// A spilled reply, once the queue is empty.
    fn spilled(&self) -> Option<Arc<Encoded>> {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.spill.pop_front()
    }

    /// The next frame to write, or `None` when the connection is done: its session ended and
    /// everything queued before was yielded, or the connection was dropped as a slow consumer
    /// (then at once, and what was queued is dropped: it stays pending in storage).
    pub async fn recv(&mut self) -> Option<Arc<Encoded>> {
        if let Some(f) = self.try_recv() {
            return Some(f);
        }
        if self.abort.is_cancelled() {
            return None;
        }
        let f = tokio::select! {
            biased;
            _ = self.abort.cancelled() => return None,
            f = self.rx.recv() => f,
        };
        match f {
            Some(f) => Some(self.took(f)),
            // The session ended: what it spilled last still goes out.
            None => self.spilled().map(|f| self.took(f)),
        }
    }

    /// The next frame if one is queued now (to batch writes), without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Encoded>> {
        if self.abort.is_cancelled() {
            return None;
        }
        match self.rx.try_recv() {
            Ok(f) => Some(self.took(f)),
            Err(_) => self.spilled().map(|f| self.took(f)),
        }
    }

    /// Resolves when the connection must be dropped without writing more (a slow consumer).
    /// A writer blocked on a peer that does not read should select on this.
    pub async fn aborted(&self) {
        self.abort.cancelled().await
    }
}
