//! Puts every delivery of a conversation in `conv_seq` order before it reaches the hub.
//!
//! Storage numbers a conversation's messages 1, 2, 3... at commit, but the sessions that stored
//! them (and, in a cluster, the other nodes that hand deliveries over through the bus) come back
//! in any order. The sequencer keeps, per conversation, the next `conv_seq` to hand to the hub
//! and holds what arrives early:
//!
//! - a local store registers with [`Sequencer::begin`] before it calls storage; while stores of
//!   a conversation are in flight, nothing of it that is not next in line leaves, and when they
//!   have all come back the smallest held one is next. So on one node the order is exact, even
//!   the first time a conversation is seen, and no storage round trip is spent to learn it;
//! - a delivery from another node waits for the ones before it; if a gap is not filled within
//!   [`GAP_WAIT`] (the other node died between its commit and its publish), the sequencer moves
//!   on: the missing message stays pending in storage, and a client that sees the gap fetches
//!   it (protocol.md section 4);
//! - a gap while local stores are in flight is left for them to fill, but for
//!   [`LOCAL_GAP_WAIT`] at most: a batch that failed after part of it committed leaves a gap no
//!   store will fill, and under constant writes there is always one in flight. So a gap never
//!   holds a conversation longer than `LOCAL_GAP_WAIT` (plus one `GAP_WAIT` tick).
//!
//! Because writers never wait for one another, a connection can have a batch of messages in
//! one storage step, and the storage can commit many conversations' messages together.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use easyim_proto::Encoded;

use crate::types::{Conversation, UserId};

/// How long a delivery from another node waits for the ones before it.
pub(crate) const GAP_WAIT: Duration = Duration::from_millis(500);
/// How long a gap may wait for the local stores in flight (a storage step slower than this
/// lets the ones after it go first; the late one stays pending for its recipients).
pub(crate) const LOCAL_GAP_WAIT: Duration = Duration::from_secs(2);

const SHARDS: usize = 64;
/// Idle conversations are forgotten once a shard tracks more than this many.
const SHARD_SOFT_CAP: usize = 4096;

/// A message ready to go to the hub once its turn comes.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) users: Vec<UserId>,
    pub(crate) frame: Arc<Encoded>,
    /// The sending connection, which gets the ack (in the same turn) instead.
    pub(crate) except: Option<u64>,
    /// The ack and the connection it goes to: sequenced too, so that a writer's connection
    /// sees its own acks and the others' messages in one increasing order.
    pub(crate) ack: Option<(Arc<crate::hub::ConnHandle>, Arc<Encoded>)>,
    /// Whether this node stored it (and so hands it to the other nodes too).
    pub(crate) local: bool,
}

#[derive(Debug, Default)]
struct ConvState {
    /// The next `conv_seq` to release; unknown until the first release.
    next: Option<u64>,
    /// Local stores of this conversation that have not come back yet.
    inflight: usize,
    held: BTreeMap<u64, Delivery>,
    gap_timer: bool,
    /// The `next` a gap was found at (`None`: nothing released yet, stores in flight), and
    /// since when.
    gap_since: Option<(Option<u64>, tokio::time::Instant)>,
}

/// Where released deliveries go: the engine's router (the hub plus the bus); a recorder in
/// tests. Only what a release needs, so the sequencer knows nothing of the engine.
pub(crate) trait Sink: Send + Sync + 'static {
    fn release(&self, conv: Conversation, seq: u64, d: Delivery);
}

/// The per-conversation order keeper of one node.
#[derive(Debug)]
pub(crate) struct Sequencer {
    shards: Box<[Mutex<HashMap<Conversation, ConvState>>]>,
}

impl Default for Sequencer {
    fn default() -> Self {
        Sequencer {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// A local store in flight. Finish it with [`Ticket::finish`]; dropping it (a failed or
/// refused store, a cancelled task) withdraws it, so nothing waits for it.
#[derive(Debug)]
pub(crate) struct Ticket<S: Sink> {
    conv: Conversation,
    owner: Option<(Arc<Sequencer>, Arc<S>)>,
}

impl<S: Sink> Ticket<S> {
    /// The store committed `d` as `seq`: release it in its turn.
    pub(crate) fn finish(mut self, seq: u64, d: Delivery) {
        if let Some((seqr, sink)) = self.owner.take() {
            seqr.settle(self.conv, Some((seq, d)), true, &sink);
        }
    }
}

impl<S: Sink> Drop for Ticket<S> {
    fn drop(&mut self) {
        if let Some((seqr, sink)) = self.owner.take() {
            seqr.settle(self.conv, None, true, &sink);
        }
    }
}

impl Sequencer {
    fn shard(&self, conv: &Conversation) -> &Mutex<HashMap<Conversation, ConvState>> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        conv.hash(&mut h);
        &self.shards[h.finish() as usize % SHARDS]
    }

    /// Registers a local store of `conv` that is about to start.
    pub(crate) fn begin<S: Sink>(self: &Arc<Self>, conv: Conversation, sink: &Arc<S>) -> Ticket<S> {
        let mut shard = self.shard(&conv).lock().unwrap_or_else(|e| e.into_inner());
        shard.entry(conv).or_default().inflight += 1;
        Ticket {
            conv,
            owner: Some((self.clone(), sink.clone())),
        }
    }

    /// A delivery another node stored.
    pub(crate) fn remote<S: Sink>(
        self: &Arc<Self>,
        conv: Conversation,
        seq: u64,
        d: Delivery,
        sink: &Arc<S>,
    ) {
        self.settle(conv, Some((seq, d)), false, sink);
    }

    fn settle<S: Sink>(
        self: &Arc<Self>,
        conv: Conversation,
        arrived: Option<(u64, Delivery)>,
        was_local: bool,
        sink: &Arc<S>,
    ) {
        let mut shard = self.shard(&conv).lock().unwrap_or_else(|e| e.into_inner());
        let st = shard.entry(conv).or_default();
        if was_local {
            st.inflight = st.inflight.saturating_sub(1);
        }
        if let Some((seq, d)) = arrived {
            st.held.insert(seq, d);
        }
        let mut need_timer = false;
        loop {
            let Some(next) = st.next else {
                // Nothing released yet: once no local store is in flight, the smallest held
                // one is the first (every earlier message was released before this state
                // was made, or is in flight and will come back).
                if let Some((&first, _)) = st.held.first_key_value() {
                    if st.inflight == 0 {
                        st.next = Some(first);
                        continue;
                    }
                    // Stores in flight may come back with smaller ones; under constant writes
                    // there always are some, so a timer bounds the wait. Not when another
                    // node's deliveries are held: two nodes storing a conversation's first
                    // messages at once is the first-sight edge (CLUSTER.md), where skipping
                    // ahead would drop this node's own on connections that got later ones.
                    if st.held.values().any(|d| !d.local) {
                        break;
                    }
                    if st.gap_since.is_none_or(|(at, _)| at.is_some()) {
                        st.gap_since = Some((None, tokio::time::Instant::now()));
                    }
                    if !st.gap_timer {
                        st.gap_timer = true;
                        need_timer = true;
                    }
                }
                break;
            };
            let Some((&first, _)) = st.held.first_key_value() else {
                break;
            };
            if first <= next {
                // `first == next`: its turn. `first < next`: a late one (a repeat, or the race
                // across nodes of a conversation's first messages): released anyway; each
                // connection's queue lets through only what is later than what it had, so a
                // connection that had a later one sees the gap and fetches it.
                if let Some(d) = st.held.remove(&first) {
                    sink.release(conv, first, d);
                }
                if first == next {
                    st.next = Some(next + 1);
                }
                continue;
            }
            // A gap. Local stores in flight may fill it; otherwise it is another node's. Either
            // way a timer bounds the wait.
            if st.gap_since.is_none_or(|(at, _)| at != Some(next)) {
                st.gap_since = Some((Some(next), tokio::time::Instant::now()));
            }
            if !st.gap_timer {
                st.gap_timer = true;
                need_timer = true;
            }
            break;
        }
        if shard.len() > SHARD_SOFT_CAP {
            shard.retain(|_, s| s.inflight > 0 || !s.held.is_empty());
        }
        drop(shard);
        if need_timer {
            self.skip_gap_later(conv, sink);
        }
    }

    fn skip_gap_later<S: Sink>(self: &Arc<Self>, conv: Conversation, sink: &Arc<S>) {
        let (weak, sink): (Weak<Sequencer>, Arc<S>) = (Arc::downgrade(self), sink.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            tokio::time::sleep(GAP_WAIT).await;
            let Some(seqr) = weak.upgrade() else { return };
            {
                let mut shard = seqr.shard(&conv).lock().unwrap_or_else(|e| e.into_inner());
                let Some(st) = shard.get_mut(&conv) else {
                    return;
                };
                st.gap_timer = false;
                let limit = if st.inflight == 0 {
                    GAP_WAIT
                } else {
                    LOCAL_GAP_WAIT
                };
                if let Some((&first, _)) = st.held.first_key_value() {
                    let waited = match st.gap_since {
                        Some((at, since)) if at == st.next => since.elapsed(),
                        _ => Duration::ZERO,
                    };
                    if st.next.is_none_or(|next| next < first) && waited >= limit {
                        tracing::debug!(%conv, from = ?st.next, to = first, "skipping a gap");
                        st.next = Some(first);
                        st.gap_since = None;
                    }
                }
            }
            seqr.settle(conv, None, false, &sink);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use easyim_proto::Msg;

    #[derive(Default)]
    struct Record(Mutex<Vec<u64>>);
    impl Sink for Record {
        fn release(&self, _conv: Conversation, seq: u64, _d: Delivery) {
            self.0.lock().unwrap().push(seq);
        }
    }

    fn d() -> Delivery {
        Delivery {
            users: vec![],
            frame: Arc::new(Encoded::new(Msg::default())),
            except: None,
            ack: None,
            local: true,
        }
    }

    const C: Conversation = Conversation::Group(7);

    #[test]
    fn local_stores_come_out_in_order_whatever_order_they_return_in() {
        let (s, r) = (Arc::new(Sequencer::default()), Arc::new(Record::default()));
        let (a, b, c) = (s.begin(C, &r), s.begin(C, &r), s.begin(C, &r));
        b.finish(2, d());
        c.finish(3, d());
        assert!(r.0.lock().unwrap().is_empty(), "1 is still in flight");
        a.finish(1, d());
        assert_eq!(*r.0.lock().unwrap(), vec![1, 2, 3]);
        let e = s.begin(C, &r);
        e.finish(4, d());
        assert_eq!(*r.0.lock().unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_withdrawn_store_does_not_block_the_others() {
        let (s, r) = (Arc::new(Sequencer::default()), Arc::new(Record::default()));
        let (a, b) = (s.begin(C, &r), s.begin(C, &r));
        b.finish(5, d());
        drop(a); // failed: no seq
        assert_eq!(*r.0.lock().unwrap(), vec![5]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_remote_gap_is_skipped_after_a_while() {
        let (s, r) = (Arc::new(Sequencer::default()), Arc::new(Record::default()));
        s.remote(C, 1, d(), &r);
        s.remote(C, 3, d(), &r);
        assert_eq!(*r.0.lock().unwrap(), vec![1]);
        s.remote(C, 2, d(), &r);
        assert_eq!(*r.0.lock().unwrap(), vec![1, 2, 3]);
        s.remote(C, 5, d(), &r);
        tokio::time::sleep(GAP_WAIT * 2).await;
        assert_eq!(*r.0.lock().unwrap(), vec![1, 2, 3, 5]);
        s.remote(C, 4, d(), &r); // late: still delivered
        assert_eq!(*r.0.lock().unwrap(), vec![1, 2, 3, 5, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_is_skipped_in_bounded_time_even_while_stores_keep_coming() {
        let (s, r) = (Arc::new(Sequencer::default()), Arc::new(Record::default()));
        let first = s.begin(C, &r);
        first.finish(1, d());
        // 2 was committed by a batch that then failed: its ticket is withdrawn, no seq.
        drop(s.begin(C, &r));
        // Writes keep coming: there is always a store in flight.
        let mut inflight = s.begin(C, &r);
        for seq in 3..103 {
            let next = s.begin(C, &r);
            inflight.finish(seq, d());
            inflight = next;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(inflight);
        let got = r.0.lock().unwrap().clone();
        assert_eq!(got[0], 1);
        assert!(got.len() > 50, "3 and on were held for 5 s: {got:?}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }
}
