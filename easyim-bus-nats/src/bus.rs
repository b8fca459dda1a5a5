//! The bus: [`NatsBus`] publishes this node's events, [`NatsSubscriber`] applies the others'.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{Client, ConnectOptions, Event, Subject};
use bytes::Bytes;
use easyim_core::{Bus, BusEvent, Engine, PRESENCE_BEAT};
use futures::StreamExt as _;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{debug, info, warn};

use crate::batch::{self, BatchWriter};
use crate::error::Error;
use crate::stats::BusStats;
use crate::wire::{self, Kind, Origin};

/// How a node joins the bus.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NatsOptions {
    /// `NATS_URL`: one server, or several separated by commas (a NATS cluster).
    pub url: String,
    /// `DB_NODE_ID`, written into every event for the receivers' logs.
    pub node_id: u16,
    /// Events that may wait for NATS. Beyond it [`Bus::publish`] drops (and counts): the
    /// engine must never wait for the broker, and what a node misses stays pending.
    pub queue: usize,
    /// The first tokens of every subject; nodes of one cluster must agree on it. Two clusters
    /// may share one NATS with different prefixes.
    pub prefix: String,
}

impl NatsOptions {
    /// The defaults for `url` and `node_id`: a queue of 8192 events, prefix `easyim.v1`.
    pub fn new(url: impl Into<String>, node_id: u16) -> Self {
        NatsOptions {
            url: url.into(),
            node_id,
            queue: 8192,
            prefix: "easyim.v1".into(),
        }
    }
}

/// The publishing side of the bus, given to [`Engine::with_bus`]. Never blocks: an event is
/// queued, and one task hands the queue to NATS in order (so the receivers see one node's
/// events in the order it published them).
#[derive(Debug)]
pub struct NatsBus {
    tx: mpsc::Sender<BusEvent>,
    stats: Arc<BusStats>,
    /// Whether the last event was dropped, so a full queue is logged once per episode rather
    /// than once per event.
    dropping: AtomicBool,
}

/// The receiving side: applies the other nodes' events to an engine. Made by
/// [`NatsBus::connect`]; run it once the engine exists.
#[derive(Debug)]
pub struct NatsSubscriber {
    subscription: async_nats::Subscriber,
    origin: Origin,
    stats: Arc<BusStats>,
}

impl NatsBus {
    /// Connects to NATS and subscribes to the cluster's subjects. Fails if no server answers
    /// now; after that, the client reconnects by itself for as long as the process lives.
    pub async fn connect(opts: NatsOptions) -> Result<(NatsBus, NatsSubscriber), Error> {
        let node = opts.node_id;
        let client = ConnectOptions::new()
            .name(format!("easyim-node-{node}"))
            // The server does not send our own events back; the origin check below stays for
            // the case of several connections of one process.
            .no_echo()
            .event_callback(move |event| async move {
                match event {
                    Event::Connected => info!(node, "NATS connected"),
                    Event::Disconnected => warn!(
                        node,
                        "NATS disconnected: deliveries to other nodes wait in the bus queue, \
                         then are dropped (they stay pending in storage)"
                    ),
                    other => warn!(node, event = %other, "NATS"),
                }
            })
            .connect(opts.url.as_str())
            .await
            .map_err(|err| Error::Connect {
                url: opts.url.clone(),
                err,
            })?;
        let wildcard = format!("{}.*", opts.prefix);
        let subscription =
            client
                .subscribe(wildcard.clone())
                .await
                .map_err(|err| Error::Subscribe {
                    subject: wildcard.clone(),
                    err,
                })?;
        // Send the subscription before the node takes connections: left in the client's
        // buffer, it would miss the deliveries published for them meanwhile.
        client.flush().await.map_err(|e| Error::Flush {
            subject: wildcard,
            err: e,
        })?;
        let origin = Origin {
            node,
            instance: rand::random(),
        };
        confirm_subscription(&client, &opts.prefix, origin).await;
        let stats = Arc::new(BusStats::default());
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        tokio::spawn(publish_loop(client, rx, opts.prefix, origin, stats.clone()));
        info!(node, url = %opts.url, "joined the NATS bus");
        Ok((
            NatsBus {
                tx,
                stats: stats.clone(),
                dropping: AtomicBool::new(false),
            },
            NatsSubscriber {
                subscription,
                origin,
                stats,
            },
        ))
    }

    /// The bus's counters (shared with its subscriber).
    pub fn stats(&self) -> Arc<BusStats> {
        self.stats.clone()
    }
}

/// How long a starting node waits for NATS to answer its probe.
const CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// Waits until the NATS server has read this connection's subscription. A flush only writes
/// it; a request to a subject nobody serves comes back from the server ("no responders"), and
/// the server reads a connection's commands in order, so the subscription written before the
/// request is registered by then. A server too old to answer "no responders", or a subject
/// somebody listens on, leaves the probe unanswered: the node starts anyway after
/// [`CONFIRM_WAIT`], and says so.
async fn confirm_subscription(client: &Client, prefix: &str, origin: Origin) {
    let subject = format!("{prefix}-probe.{}.{:x}", origin.node, origin.instance);
    let node = origin.node;
    match tokio::time::timeout(CONFIRM_WAIT, client.request(subject, Bytes::new())).await {
        Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => {
            debug!(node, "NATS confirmed the subscription");
        }
        Ok(Ok(_)) => debug!(node, "NATS probe answered; the subscription is registered"),
        Ok(Err(e)) => warn!(node, error = %e, "NATS did not confirm the subscription"),
        Err(_) => warn!(
            node,
            "NATS did not answer the subscription probe within {CONFIRM_WAIT:?}; starting anyway"
        ),
    }
}

impl Bus for NatsBus {
    fn render_metrics(&self, out: &mut String) {
        self.stats.render(out);
    }

    fn publish(&self, event: BusEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                if self.dropping.load(Relaxed) && self.dropping.swap(false, Relaxed) {
                    info!(
                        dropped_total = self.stats.dropped(),
                        "bus queue accepts events again"
                    );
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.stats.dropped.fetch_add(1, Relaxed);
                if !self.dropping.swap(true, Relaxed) {
                    warn!(
                        dropped_total = self.stats.dropped(),
                        "bus queue full (NATS slow or away): dropping events for other nodes; \
                         their recipients get those messages at their next login"
                    );
                }
            }
        }
    }
}

/// Hands the queue to NATS, in order: whatever has queued up since the last publish goes
/// as one batch (up to [`batch::MAX_EVENTS`] events or [`batch::MAX_BYTES`]), so a busy node
/// publishes far fewer NATS messages than events and an idle one still publishes each event
/// at once. While NATS is away the client's own buffer fills, this loop waits in `publish`,
/// and the queue in front of it fills: that is when events drop.
async fn publish_loop(
    client: Client,
    mut rx: mpsc::Receiver<BusEvent>,
    prefix: String,
    origin: Origin,
    stats: Arc<BusStats>,
) {
    let subject = Subject::from(format!("{prefix}.{}", batch::SUBJECT));
    let mut queued = Vec::with_capacity(batch::MAX_EVENTS);
    let mut writer = BatchWriter::new(origin);
    while rx.recv_many(&mut queued, batch::MAX_EVENTS).await > 0 {
        for event in queued.drain(..) {
            writer.push(&event, origin);
            if writer.full() {
                send(&client, &subject, &mut writer, &stats).await;
            }
        }
        if writer.len() > 0 {
            send(&client, &subject, &mut writer, &stats).await;
        }
    }
    debug!("bus closed; publisher done");
}

/// Publishes the batch in `writer` and empties it.
async fn send(client: &Client, subject: &Subject, writer: &mut BatchWriter, stats: &BusStats) {
    let events = writer.len() as u64;
    match client.publish(subject.clone(), writer.take()).await {
        Ok(()) => {
            stats.published.fetch_add(events, Relaxed);
            stats.batches.fetch_add(1, Relaxed);
        }
        Err(e) => {
            // Too large for the server's max_payload (one huge delivery), or the client closed.
            stats.publish_failed.fetch_add(events, Relaxed);
            warn!(error = %e, events, "could not publish a batch of bus events");
        }
    }
}

impl NatsSubscriber {
    /// Applies every event of the other nodes to `engine` until `shutdown` resolves (or the
    /// NATS client is closed for good), and beats the engine's presence every
    /// [`PRESENCE_BEAT`]. Reconnections are the client's business: the subscription resumes by
    /// itself, and what was published meanwhile is not replayed.
    pub async fn run(mut self, engine: Engine, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut beat = tokio::time::interval(PRESENCE_BEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => break,
                _ = beat.tick() => {
                    engine.presence_beat();
                    continue;
                }
                m = self.subscription.next() => match m {
                    Some(m) => m,
                    None => break,
                },
            };
            self.handle(&engine, &message);
        }
        let _ = self.subscription.unsubscribe().await;
        debug!("bus subscriber done");
    }

    fn handle(&self, engine: &Engine, message: &async_nats::Message) {
        let token = message.subject.rsplit('.').next().unwrap_or_default();
        if token == batch::SUBJECT {
            return self.handle_batch(engine, message);
        }
        // The single-event subjects: what nodes of earlier versions publish.
        let Some(kind) = Kind::from_token(token) else {
            // A subject of a later version of the bus: not for us.
            return;
        };
        match wire::decode(kind, &message.payload) {
            Ok((origin, _)) if origin.instance == self.origin.instance => {
                self.stats.ignored_own.fetch_add(1, Relaxed);
            }
            Ok((origin, event)) => {
                self.stats.received.fetch_add(1, Relaxed);
                debug!(from_node = origin.node, subject = token, "bus event");
                engine.apply(event);
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Relaxed);
                warn!(error = %e, subject = %message.subject, "unreadable bus event; ignored");
            }
        }
    }

    /// Applies a batch's events in order; a batch that does not read is ignored whole.
    fn handle_batch(&self, engine: &Engine, message: &async_nats::Message) {
        match batch::decode(&message.payload) {
            Ok((origin, events)) if origin.instance == self.origin.instance => {
                self.stats
                    .ignored_own
                    .fetch_add(events.len() as u64, Relaxed);
            }
            Ok((origin, events)) => {
                self.stats.received.fetch_add(events.len() as u64, Relaxed);
                debug!(from_node = origin.node, events = events.len(), "bus batch");
                for event in events {
                    engine.apply(event);
                }
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Relaxed);
                warn!(error = %e, subject = %message.subject, "unreadable bus batch; ignored");
            }
        }
    }
}
