//! Delivery across nodes.
//!
//! The hub delivers to the connections this node holds. When several nodes share one storage,
//! each also hands every delivery to the others through a [`Bus`]; a node that receives an
//! event from the bus applies it with [`crate::Engine::apply`]. The default, [`LocalBus`], has
//! no other nodes.

use std::sync::Arc;

use easyim_proto::Encoded;

use crate::types::{Conversation, UserId};

/// Something another node must do for the connections it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    /// Queue `msg` to every connection of `users` (a delivery, a receipt, a notice).
    Deliver {
        /// The users to deliver to.
        users: Vec<UserId>,
        /// The frame, shared with this node's own connections: a bus encodes it from here (the
        /// protobuf form, once, whichever asks first), never copying the message.
        frame: Arc<Encoded>,
        /// The conversation and `conv_seq` of a chat message, used to drop a repeat that a
        /// connection already got in its login replay.
        key: Option<(Conversation, u64)>,
    },
    /// Close every connection of `user` with `E_AUTH_REVOKED` (logout, secret reset).
    Revoke {
        /// Whose tokens were revoked.
        user: UserId,
    },
    /// `user`'s first connection on node `instance` opened (`online`), or its last one there
    /// closed, at `at` (ms since the Unix epoch).
    Presence {
        /// The node's instance (its id and start time).
        instance: u64,
        /// The user.
        user: UserId,
        /// Opened (`true`) or closed.
        online: bool,
        /// When, in ms since the Unix epoch.
        at: i64,
    },
    /// Node `instance` is alive (every beat). `resync`: it just met a node it did not know,
    /// and every node should send it a [`BusEvent::Snapshot`].
    Alive {
        /// The node's instance.
        instance: u64,
        /// Whether the others should send their snapshots.
        resync: bool,
    },
    /// Some of the users node `instance` holds connections of (a node's whole set comes in
    /// several of these).
    Snapshot {
        /// The node's instance.
        instance: u64,
        /// Users with a connection there.
        users: Vec<UserId>,
    },
}

/// Hands events to the other nodes of a cluster. `publish` must not block: it queues.
pub trait Bus: Send + Sync + 'static {
    /// Sends `event` to every other node (never back to this one).
    fn publish(&self, event: BusEvent);

    /// Whether there may be other nodes to tell. False lets a node skip building the events it
    /// would publish (a copy of every message); a bus to other nodes keeps the default.
    fn has_peers(&self) -> bool {
        true
    }

    /// Appends the bus's own counters (published, dropped...) in the Prometheus text format.
    fn render_metrics(&self, _out: &mut String) {}
}

/// A single node: there is nobody to tell.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalBus;

impl Bus for LocalBus {
    fn publish(&self, _event: BusEvent) {}

    fn has_peers(&self) -> bool {
        false
    }
}
