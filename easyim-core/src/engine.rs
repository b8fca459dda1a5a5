//! The engine: what one node of easyim is, independent of its transports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use easyim_proto::{ChatType, Encoded, Msg, MsgType};
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::bus::{Bus, BusEvent, LocalBus};
pub(crate) use crate::config::EngineConfig;
use crate::delivery::Router;
use crate::error::AuthError;
use crate::error::{Entity, ImError, StorageError};
use crate::ids::now_ms;
use crate::ids::Snowflake;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::outbox::{self, Outbox};
use crate::presence::Presence;
use crate::relation::DirectMessages;
use crate::sequencer::Delivery;
use crate::session::Connection;
use crate::storage::{MessageStore, ModerationStore, Storage};
use crate::throttle::Throttle;
use crate::types::{GroupId, NewMessage, StoreOutcome, StoredMessage, UserId};

/// One easyim node: storage, identity, the hub of live connections, and the sessions that
/// drive them. Cheap to clone (an `Arc`).
///
/// A transport calls [`Engine::open`] for each new connection, writes what the returned
/// [`Outbox`] yields, and runs [`Connection::run`] with the connection's decoded frames.
#[derive(Clone)]
pub struct Engine {
    node: Arc<Node>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.node.config)
            .finish_non_exhaustive()
    }
}

/// At most one TYPING per sender and conversation in this time.
const TYPING_INTERVAL: Duration = Duration::from_secs(1);
/// How many (sender, conversation) pairs the typing throttle remembers at most.
const TYPING_TRACKED: usize = 100_000;

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
        Engine::build(storage, auth, config, bus, None)
    }

    /// An engine whose send path also applies the group rules of `directory` (mutes, roles),
    /// and whose typing and presence know who exists, is a member, is a friend: what
    /// [`crate::Im`] builds.
    pub(crate) fn build(
        storage: Arc<dyn MessageStore>,
        auth: Arc<dyn Auth>,
        config: EngineConfig,
        bus: Arc<dyn Bus>,
        directory: Option<Arc<dyn Storage>>,
    ) -> Self {
        let ids = Snowflake::new(config.node_id);
        let metrics = Arc::new(Metrics::default());
        Engine {
            node: Arc::new(Node {
                storage,
                moderation: directory.clone().map(|d| d as Arc<dyn ModerationStore>),
                friends_only: AtomicBool::new(false),
                directory,
                typing: Throttle::new(TYPING_INTERVAL, TYPING_TRACKED),
                presence: Presence::new(config.node_id),
                events: std::sync::OnceLock::new(),
                before_send: std::sync::OnceLock::new(),
                auth,
                config,
                router: Arc::new(Router::new(bus, metrics.clone())),
                sequencer: Arc::default(),
                ids,
                metrics,
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// The node's shared state, for the services' paths through the engine.
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The message storage.
    pub fn messages(&self) -> &Arc<dyn MessageStore> {
        &self.node.storage
    }

    /// The token authority.
    pub fn auth(&self) -> &Arc<dyn Auth> {
        &self.node.auth
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.node.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.node.metrics
    }

    /// Appends every counter of the engine and its bus in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.node.metrics.render(out);
        self.node.router.bus().render_metrics(out);
    }

    /// A fresh snowflake id (users, groups, requests, messages).
    pub fn next_id(&self) -> u64 {
        self.node.ids.next_id()
    }

    /// How many connections `user` has on this node.
    pub fn online(&self, user: UserId) -> usize {
        self.node.router.hub().online(user)
    }

    /// How many users are online on this node, and with how many connections in all.
    pub fn online_totals(&self) -> (usize, usize) {
        self.node.router.hub().totals()
    }

    /// Closes every connection of `user` on every node with `E_AUTH_REVOKED`, without touching
    /// its tokens (the caller has made them invalid already).
    pub(crate) fn close_connections(&self, user: UserId) {
        self.node.router.revoke(user, true);
    }

    /// Starts a connection: the returned [`Connection`] is run with the decoded frames, and
    /// the [`Outbox`] yields what to write to the peer, in order, until the connection is done.
    pub fn open(&self) -> (Connection, Outbox) {
        let node = &self.node;
        let (out, outbox) = outbox::channel(node.config.send_queue, node.metrics.clone());
        let id = node.router.hub().next_conn_id();
        (Connection::new(node.clone(), id, out), outbox)
    }

    /// Revokes every token of `user` and closes its connections on every node with
    /// `E_AUTH_REVOKED`.
    pub async fn revoke(&self, user: UserId) -> Result<(), AuthError> {
        self.node.auth.revoke(user).await?;
        self.node.router.revoke(user, true);
        Ok(())
    }

    /// Queues a server frame (a notice) to every connection of `user`, on every node.
    pub fn notify(&self, user: UserId, msg: Msg) {
        let frame = Arc::new(Encoded::new(msg));
        self.node
            .router
            .deliver(vec![user], &frame, None, None, true);
    }

    /// Asks `hook` about every chat message before it is stored (allow, refuse, replace its
    /// content). Set once, before connections come; a second call changes nothing and
    /// answers false.
    pub fn set_before_send(&self, hook: Arc<dyn crate::hook::BeforeSend>) -> bool {
        self.node.before_send.set(hook).is_ok()
    }

    /// Writes `message.offline` and presence events through `storage` (when its filter
    /// selects them).
    pub(crate) fn set_engine_events(&self, storage: Arc<dyn crate::storage::Storage>) {
        let node_id = self.node.config.node_id;
        let _ = self
            .node
            .events
            .set(crate::events::EngineEvents::new(storage, node_id));
    }

    /// Applies `DIRECT_MESSAGES` to the send path.
    pub(crate) fn set_direct_messages(&self, who: DirectMessages) {
        self.node
            .friends_only
            .store(who == DirectMessages::Friends, Ordering::Relaxed);
    }

    /// Stores `new` outside any connection (a group event, a message of the server API) and,
    /// if it is new, delivers it in its conversation's order to its recipients' connections
    /// and to `also`'s (its sender's other devices), on every node. The outcome as storage
    /// gave it.
    pub(crate) async fn store_and_deliver(
        &self,
        new: NewMessage,
        also: Option<UserId>,
    ) -> Result<StoreOutcome, StorageError> {
        let node = &self.node;
        let ticket = node.sequencer.begin(new.conversation(), &node.router);
        let outcome = node.storage.store_message(new).await?;
        if let StoreOutcome::Stored {
            message,
            recipients,
        } = &outcome
        {
            let mut users = recipients.clone();
            users.extend(also);
            ticket.finish(
                message.conv_seq,
                Delivery {
                    users,
                    frame: Arc::new(Encoded::new(message.to_msg())),
                    except: None,
                    ack: None,
                    local: true,
                },
            );
        }
        Ok(outcome)
    }

    /// Stores a group event (a NOTIFY message of `group` from `actor`, `content` its JSON)
    /// and delivers it to the members, through the same sequencer and delivery path as a chat
    /// message: it gets the next `conv_seq`, is pending for offline members, and reaches every
    /// connection in order with the group's other messages. `actor` must be a member when it
    /// is stored (a departing member's event is stored before it goes).
    pub(crate) async fn post_group_event(
        &self,
        group: GroupId,
        actor: UserId,
        content: String,
    ) -> Result<StoredMessage, ImError> {
        let node = &self.node;
        let new = NewMessage {
            id: node.ids.next_id().to_string(),
            from: actor,
            to: group,
            chat_type: ChatType::Group,
            msg_type: MsgType::Notify as i32,
            content,
            timestamp: now_ms() as i64,
            ref_id: String::new(),
        };
        match self.store_and_deliver(new, Some(actor)).await? {
            StoreOutcome::Stored { message, .. } => Ok(message),
            StoreOutcome::NoGroup => Err(ImError::NotFound(Entity::Group)),
            StoreOutcome::NotMember => Err(ImError::Forbidden("not a member of the group")),
            _ => Err(ImError::Storage(StorageError::unavailable_msg(
                "a group event was not stored as a new message",
            ))),
        }
    }

    /// Applies an event that another node published on the bus, to this node's connections.
    pub fn apply(&self, event: BusEvent) {
        let node = &self.node;
        match event {
            BusEvent::Deliver { users, frame, key } => {
                match key {
                    // A chat message waits for its turn in its conversation.
                    Some((conv, seq)) => {
                        let d = Delivery {
                            users,
                            frame,
                            except: None,
                            ack: None,
                            local: false,
                        };
                        node.sequencer.remote(conv, seq, d, &node.router);
                    }
                    None => node.router.deliver(users, &frame, None, None, false),
                }
            }
            BusEvent::Revoke { user } => node.router.revoke(user, false),
            e
            @ (BusEvent::Presence { .. } | BusEvent::Alive { .. } | BusEvent::Snapshot { .. }) => {
                node.presence_event(e)
            }
        }
    }

    /// One presence beat (call it every [`crate::PRESENCE_BEAT`] on a node with a bus): tells
    /// the other nodes this one is alive, and marks offline the users of nodes silent for
    /// [`crate::PRESENCE_EXPIRY`].
    pub fn presence_beat(&self) {
        self.node.presence_beat();
    }

    /// Starts a graceful stop: every connection gets `E_SHUTDOWN` and closes, and new
    /// connections are refused the same way. In-flight storage steps complete first.
    pub fn shutdown(&self) {
        self.node.shutdown.cancel();
    }

    /// Whether [`Engine::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.node.shutdown.is_cancelled()
    }
}
