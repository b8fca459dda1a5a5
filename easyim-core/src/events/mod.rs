//! Webhook events and the durable outbox they wait in.
//!
//! A storage writes an event in the same transaction as the change it reports (so a message
//! that was acked has its `message.created` event in storage), but only the kinds its
//! [`EventFilter`] selects: with webhooks off (the default) the filter is empty and storing
//! costs one atomic load more per call. The server's dispatcher then claims events
//! ([`crate::storage::OutboxStore`]), POSTs them and acknowledges them.
//!
//! - [`EventKind`]: the kinds of event and their names on the wire.
//! - [`EventFilter`]: which kinds a storage writes, switched at run time.
//! - [`NewEvent`], [`OutboxEvent`], [`OutboxStats`]: an event before and after it is stored.
//! - the `payload` module: the JSON `data` of each kind, which every storage writes alike.

mod engine;
mod filter;
mod kind;
mod payload;

pub use engine::user_presence;
pub(crate) use engine::EngineEvents;
pub use filter::EventFilter;
pub use kind::{EventKind, UnknownEventKind};
pub use payload::{
    friend_answered, friend_key, friend_removed, friend_requested, message_created,
    message_offline, user_registered,
};

/// An event to write into the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What it reports.
    pub kind: EventKind,
    /// The ordering key: events of one key are delivered in the order written (a message's
    /// conversation, `"u:<id>"` for a user's own events).
    pub key: String,
    /// The event's `data`, JSON text.
    pub data: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// An event read back from the outbox (claimed for delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its id in the outbox: unique, increasing in the order written; the event id the
    /// receiver sees.
    pub id: u64,
    /// What it reports.
    pub kind: EventKind,
    /// The ordering key (see [`NewEvent::key`]).
    pub key: String,
    /// The event's `data`, JSON text.
    pub data: String,
    /// When it happened, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// How many deliveries of it failed so far.
    pub attempts: u32,
}

/// How full the outbox is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Events not yet delivered.
    pub depth: u64,
    /// When the oldest of them happened (ms since the Unix epoch), if any.
    pub oldest_ms: Option<i64>,
}
