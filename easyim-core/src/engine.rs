//! The engine: what one node of easyim is, independent of its transports.

use std::sync::Arc;
use std::time::Duration;

use easyim_proto::{Encoded, Msg};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::bus::{Bus, BusEvent, LocalBus};
use crate::error::AuthError;
use crate::hub::{Hub, Kick};
use crate::ids::Snowflake;
use crate::metrics::Metrics;
use crate::sequencer::{Delivery, Sequencer, Sink};
use crate::session::Connection;
use crate::storage::MessageStore;
use crate::types::{Conversation, UserId};

/// The limits and timeouts of protocol.md, as the engine applies them.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `AUTH_TIMEOUT`: how long a new connection may take to send its login frame.
    pub auth_timeout: Duration,
    /// `SERVER_DROP_AFTER`: how long a logged-in connection may stay silent.
    pub idle_timeout: Duration,
    /// `SEND_QUEUE`: how many frames may wait for one connection before it is closed.
    pub send_queue: usize,
    /// `RATE_LIMIT`: frames per second per connection (burst the same); 0 is no limit.
    pub rate_limit: u32,
    /// `DB_NODE_ID`: this node's snowflake node number.
    pub node_id: u16,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            auth_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            send_queue: 1024,
            rate_limit: 0,
            node_id: 1,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) storage: Arc<dyn MessageStore>,
    pub(crate) auth: Arc<dyn Auth>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) config: EngineConfig,
    pub(crate) hub: Hub,
    pub(crate) ids: Snowflake,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: CancellationToken,
    /// Keeps every conversation's deliveries in `conv_seq` order.
    pub(crate) sequencer: Arc<Sequencer>,
}

impl Sink for Inner {
    fn release(&self, conv: Conversation, seq: u64, d: Delivery) {
        if let Some((conn, ack)) = &d.ack {
            conn.push(ack, None);
        }
        let key = Some((conv, seq));
        let n = self.hub.deliver(&d.users, &d.frame, key, d.except);
        self.metrics
            .deliveries
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        if d.local {
            self.bus.publish(BusEvent::Deliver {
                users: d.users,
                msg: d.frame.msg().clone(),
                key,
            });
        }
    }
}

/// One easyim node: storage, identity, the hub of live connections, and the sessions that
/// drive them. Cheap to clone (an `Arc`).
///
/// A transport calls [`Engine::open`] for each new connection, writes what the returned
/// [`Outbox`] yields, and runs [`Connection::run`] with the connection's decoded frames.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on `storage` (only its messages: accounts, friends and groups are the
    /// [`crate::Im`] services' business) and `auth`, alone (no other nodes).
    pub fn new(storage: Arc<dyn MessageStore>, auth: Arc<dyn Auth>, config: EngineConfig) -> Self {
        Engine::with_bus(storage, auth, config, Arc::new(LocalBus))
    }

    /// An engine that also hands deliveries to other nodes through `bus`.
    pub fn with_bus(
        storage: Arc<dyn MessageStore>,
        auth: Arc<dyn Auth>,
        config: EngineConfig,
        bus: Arc<dyn Bus>,
    ) -> Self {
        let ids = Snowflake::new(config.node_id);
        Engine {
            inner: Arc::new(Inner {
                storage,
                auth,
                bus,
                config,
                hub: Hub::default(),
                ids,
                metrics: Arc::new(Metrics::default()),
                shutdown: CancellationToken::new(),
                sequencer: Arc::default(),
            }),
        }
    }

    /// The message storage.
    pub fn messages(&self) -> &Arc<dyn MessageStore> {
        &self.inner.storage
    }

    /// The token authority.
    pub fn auth(&self) -> &Arc<dyn Auth> {
        &self.inner.auth
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Appends every counter of the engine and its bus in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.inner.metrics.render(out);
        self.inner.bus.render_metrics(out);
    }

    /// A fresh snowflake id (users, groups, requests, messages).
    pub fn next_id(&self) -> u64 {
        self.inner.ids.next_id()
    }

    /// How many connections `user` has on this node.
    pub fn online(&self, user: UserId) -> usize {
        self.inner.hub.online(user)
    }

    /// Starts a connection: the returned [`Connection`] is run with the decoded frames, and
    /// the [`Outbox`] yields what to write to the peer, in order, until the connection is done.
    pub fn open(&self) -> (Connection, Outbox) {
        let (tx, rx) = mpsc::channel(self.inner.config.send_queue.max(1));
        let abort = CancellationToken::new();
        let conn = Connection::new(self.clone(), tx, abort.clone());
        (conn, Outbox { rx, abort })
    }

    /// Revokes every token of `user` and closes its connections on every node with
    /// `E_AUTH_REVOKED`.
    pub async fn revoke(&self, user: UserId) -> Result<(), AuthError> {
        self.inner.auth.revoke(user).await?;
        self.inner.hub.kick_user(user, Kick::Revoked);
        self.inner.bus.publish(BusEvent::Revoke { user });
        Ok(())
    }

    /// Queues a server frame (a notice) to every connection of `user`, on every node.
    pub fn notify(&self, user: UserId, msg: Msg) {
        let frame = Arc::new(Encoded::new(msg));
        self.inner.hub.deliver(&[user], &frame, None, None);
        self.inner.bus.publish(BusEvent::Deliver {
            users: vec![user],
            msg: frame.msg().clone(),
            key: None,
        });
    }

    /// Applies an event that another node published on the bus, to this node's connections.
    pub fn apply(&self, event: BusEvent) {
        match event {
            BusEvent::Deliver { users, msg, key } => {
                let d = Delivery {
                    users,
                    frame: Arc::new(Encoded::new(msg)),
                    except: None,
                    ack: None,
                    local: false,
                };
                match key {
                    // A chat message waits for its turn in its conversation.
                    Some((conv, seq)) => self.inner.sequencer.remote(conv, seq, d, &self.inner),
                    None => {
                        self.inner.hub.deliver(&d.users, &d.frame, None, None);
                    }
                }
            }
            BusEvent::Revoke { user } => self.inner.hub.kick_user(user, Kick::Revoked),
        }
    }

    /// Starts a graceful stop: every connection gets `E_SHUTDOWN` and closes, and new
    /// connections are refused the same way. In-flight storage steps complete first.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Whether [`Engine::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
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
