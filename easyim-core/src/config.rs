//! [`EngineConfig`]: the limits and timeouts of protocol.md, as the engine applies them.

use std::time::Duration;

use crate::recall::AmendWindows;

/// The limits and timeouts of protocol.md, as the engine applies them.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `AUTH_TIMEOUT`: how long a new connection may take to send its login frame.
    pub auth_timeout: Duration,
    /// `SERVER_DROP_AFTER`: how long a logged-in connection may stay silent.
    pub idle_timeout: Duration,
    /// `SEND_QUEUE`: how many live frames may wait for one connection; past it the connection
    /// lags and is refilled from storage once it has drained to half.
    pub send_queue: usize,
    /// `RATE_LIMIT`: frames per second per connection (burst the same); 0 is no limit.
    pub rate_limit: u32,
    /// `DB_NODE_ID`: this node's snowflake node number.
    pub node_id: u16,
    /// `RECALL_WINDOW` and `EDIT_WINDOW`.
    pub amend: AmendWindows,
    /// `TYPING_MAX_GROUP`: TYPING frames are forwarded in groups of at most this many
    /// members (none in larger ones).
    pub typing_max_group: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            auth_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            send_queue: 1024,
            rate_limit: 0,
            node_id: 1,
            amend: AmendWindows::default(),
            typing_max_group: 200,
        }
    }
}

/// How long a connection may take no frame at all while its queue is full (or its own replies
/// wait) before it is closed as a slow consumer.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(30);

impl EngineConfig {
    /// [`STALL_TIMEOUT`]. (A constant, not a field: adding a field would break every struct
    /// literal of `EngineConfig` outside this crate.)
    pub fn stall_timeout(&self) -> Duration {
        STALL_TIMEOUT
    }
}
