//! [`Node`]: what one easyim node shares among its connections.
//!
//! The [`crate::Engine`] is the public handle on a node; the sessions hold the node itself, so
//! that the engine may create sessions without the sessions depending on the engine.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::config::EngineConfig;
use crate::delivery::Router;
use crate::ids::Snowflake;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::sequencer::Sequencer;
use crate::storage::{MessageStore, ModerationStore, Storage};
use crate::throttle::Throttle;

/// The state of one node: storage, identity, the outbound path, the order keeper.
pub(crate) struct Node {
    pub(crate) storage: Arc<dyn MessageStore>,
    /// The group rules the send path applies (who is muted); `None` for an engine built
    /// without the domain services, which applies none.
    pub(crate) moderation: Option<Arc<dyn ModerationStore>>,
    /// `DIRECT_MESSAGES` is `friends`: a 1:1 message to a non-friend is `E_FORBIDDEN`. Set
    /// once by [`crate::Im::with_limits`], after the node is built.
    pub(crate) friends_only: AtomicBool,
    /// The whole storage, for what the ephemeral frames need to know (who exists, who is a
    /// member, who are friends); `None` for an engine on messages alone.
    pub(crate) directory: Option<Arc<dyn Storage>>,
    /// At most one TYPING forwarded per second per sender and conversation.
    pub(crate) typing: Throttle,
    /// Who is online on the other nodes, and the friend notices of this node's users.
    pub(crate) presence: Presence,
    pub(crate) auth: Arc<dyn Auth>,
    pub(crate) config: EngineConfig,
    /// The one path by which anything reaches a connection, here or on other nodes.
    pub(crate) router: Arc<Router>,
    /// Keeps every conversation's deliveries in `conv_seq` order.
    pub(crate) sequencer: Arc<Sequencer>,
    pub(crate) ids: Snowflake,
    pub(crate) metrics: Arc<Metrics>,
    /// `message.offline` and presence events: set once by [`crate::Im`], which has the whole
    /// storage; an engine without it writes none.
    pub(crate) events: std::sync::OnceLock<crate::events::EngineEvents>,
    /// The before-send hook, set once by [`crate::Engine::set_before_send`].
    pub(crate) before_send: std::sync::OnceLock<Arc<dyn crate::hook::BeforeSend>>,
    /// Cancelled by [`crate::Engine::shutdown`]: every session says `E_SHUTDOWN` and ends.
    pub(crate) shutdown: CancellationToken,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
