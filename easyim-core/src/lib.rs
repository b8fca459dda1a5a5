//! easyim-core: the transport-agnostic IM engine.
//!
//! The core drives IM connections without knowing sockets, SQL or HTTP. A transport turns a
//! connection into a stream of decoded [`Msg`](easyim_proto::Msg) and writes the frames the
//! core queues for it; storage and identity come in through the [`Storage`] and [`Auth`]
//! traits.
//!
//! - `engine`: [`Engine`], the entry point: it owns the hub, the storage and the auth, and runs
//!   one [`Connection::run`] per connection.
//! - `config`: [`EngineConfig`], the limits and timeouts of protocol.md.
//! - `node`: what one node shares among its connections (storage, auth, router, sequencer).
//! - `session`: login, replay, heartbeats, messages, receipts and the errors of protocol.md
//!   section 6.
//! - `outbox`: a connection's bounded outgoing queue ([`Outbox`]) and every write to it.
//! - `delivery`: the one outbound path: the hub's connections plus the bus.
//! - `hub`: who is online where.
//! - `sequencer`: keeps each conversation's deliveries in `conv_seq` order.
//! - `bus`: delivery to connections held by other nodes ([`Bus`], in-process by default).
//! - `storage`, `types`: the [`Storage`] trait and the records it exchanges.
//! - `memory`: [`MemoryStorage`], a complete in-memory `Storage`.
//! - `auth`: the [`Auth`] trait, [`JwtAuth`], password hashing.
//! - `ids`: snowflake ids.
//! - `metrics`: counters the server exports.
//! - `testkit` (feature `testkit`): the storage conformance kit.

mod accounts;
mod auth;
mod bus;
mod config;
mod delivery;
mod engine;
mod error;
mod friends;
mod groups;
mod hasher;
mod history;
mod hub;
mod ids;
mod im;
mod metrics;
mod node;
mod outbox;
mod sequencer;
mod session;
pub mod storage;
mod types;

pub use accounts::{Accounts, Registration, SignedIn, MAX_ACCOUNT, MAX_NICKNAME, MAX_PASSWORD};
pub use auth::{
    hash_password, random_secret, verify_password, Auth, Claims, Grant, IssuedToken, JwtAuth,
};
pub use bus::{Bus, BusEvent, LocalBus};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::{AuthError, Backend, Conflict, Entity, ImError, Result, StorageError};
pub use friends::{Friends, MAX_REQUEST_MSG, SEARCH_LIMIT};
pub use groups::{Groups, MAX_GROUP_NAME};
pub use history::{History, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
pub use ids::{now_ms, Snowflake};
pub use im::Im;
pub use metrics::Metrics;
pub use outbox::Outbox;
pub use session::Connection;
pub use storage::{AccountStore, FriendStore, GroupStore, MessageStore, Storage};
pub use types::{
    Conversation, FriendRequest, Group, GroupId, HistoryItem, HistoryPage, NewMessage,
    PendingMessage, Profile, Receipt, RequestStatus, StoreOutcome, StoredMessage, User, UserId,
};

mod memory;
pub use memory::MemoryStorage;

#[cfg(feature = "testkit")]
pub mod testkit;
