//! Presence (protocol.md section 4, "Presence"): who is online anywhere in the cluster.
//!
//! Each node knows its own connections (the hub) and, from the bus, which users the other
//! nodes hold ([`Registry`]). A user is online while any node holds a connection of it. The
//! node where a user's first connection opens, or its last one closes, and that sees the user
//! on no other node, tells the user's online friends (a PRESENCE frame, through the router to
//! every node) and publishes the change for the other nodes' registries.
//!
//! Every node publishes [`BusEvent::Alive`] each [`PRESENCE_BEAT`]; one not heard from for
//! [`PRESENCE_EXPIRY`] is taken for dead, and each node that sees it so marks its users offline
//! and tells its own connections of their friends. A node meeting an unknown node (a new one,
//! or one back after a partition) sends it the users it holds ([`BusEvent::Snapshot`]) and
//! asks for the same.
//!
//! - [`Registry`]: the other nodes and their users, and when users were last seen;
//! - `notify`: the hooks on connect and disconnect, the bus events, and the frames to friends;
//! - `query`: `GET /api/presence`, for friends and co-members only.

mod notify;
mod query;
mod registry;

pub(crate) use notify::Presence;
pub use query::{PresenceItem, PRESENCE_QUERY_MAX};
pub(crate) use registry::Registry;

use std::time::Duration;

/// How often a node says it is alive on the bus.
pub const PRESENCE_BEAT: Duration = Duration::from_secs(2);

/// How long a node may stay silent on the bus before the others take it for dead and mark its
/// users offline. A dead node's users are offline everywhere within this plus one beat.
pub const PRESENCE_EXPIRY: Duration = Duration::from_secs(6);
