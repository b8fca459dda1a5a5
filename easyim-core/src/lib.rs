//! easyim-core: the transport-agnostic IM: connections and delivery, and the whole domain
//! (accounts, friends, groups, history) behind storage and auth traits.
//!
//! An embedder builds an [`Im`] on a [`Storage`] and an [`Auth`], opens a connection with
//! `im.engine().open()` for each client of its own transport, and serves everything else by
//! calling the services with the acting user: [`Im::accounts`], [`Im::friends`],
//! [`Im::groups`], [`Im::history`], [`Im::conversations`]. Every rule lives here, so each
//! transport behaves alike.
//!
//! - `im`: [`Im`], the node with its services.
//! - `accounts`, `friends`, `groups`, `history`, `conversations`: the domain services and
//!   their rules; each answers typed results or an [`ImError`].
//! - `devices`: [`Devices`], each user's push devices; `admin`: [`Admin`], the server API's
//!   domain (messages as any user or the system, accounts without passwords, disabling).
//! - `summary`: the records of a user's conversation list ([`ConversationSummary`], its
//!   cursor and settings).
//! - `read`: read positions ([`ReadAt`], [`ReadOutcome`]) and the one path that moves them,
//!   forwards READ receipts and syncs them to the reader's other connections.
//! - `engine`: [`Engine`], one node's connections: it runs one [`Connection::run`] per
//!   connection.
//! - `config`: [`EngineConfig`], the limits and timeouts of the wire protocol.
//! - `node`: what one node shares among its connections (storage, auth, router, sequencer).
//! - `session`: login, replay, heartbeats, messages, receipts and the protocol's errors.
//! - `outbox`: a connection's bounded outgoing queue ([`Outbox`]) and every write to it.
//! - `delivery`: the one outbound path: the hub's connections plus the bus.
//! - `hub`: who is online where.
//! - `roles`: group roles and settings ([`Role`], [`JoinPolicy`], [`GroupSettings`]...);
//!   `relation`: blocks and who may send 1:1 messages ([`Relation`], [`DirectMessages`]).
//! - `sequencer`: keeps each conversation's deliveries in `conv_seq` order.
//! - `bus`: delivery to connections held by other nodes ([`Bus`], in-process by default).
//! - [`storage`]: the narrow storage traits ([`MessageStore`], [`AccountStore`],
//!   [`FriendStore`], [`GroupStore`], [`ConversationStore`], [`ModerationStore`], [`DeviceStore`]) and
//!   [`Storage`], all of them; `types`: the records they exchange.
//! - `memory`: [`MemoryStorage`], a complete in-memory `Storage`.
//! - `auth`, `hasher`: the [`Auth`] trait, [`JwtAuth`], password hashing.
//! - `error`: [`StorageError`], [`AuthError`], [`ImError`].
//! - `limits`: [`Limits`] (group sizes, memberships) and the bounds of list pages.
//! - `ids`: snowflake ids. `metrics`: counters the server exports.
//! - `testkit` (feature `testkit`): the storage conformance kit (all of it, or one storage
//!   trait at a time) and `testkit::Client`, an in-process engine client for tests.

mod accounts;
mod admin;
mod auth;
mod bus;
mod config;
mod conversations;
mod delivery;
mod devices;
mod engine;
mod error;
mod events;
mod friends;
mod groups;
mod hasher;
mod hidden;
mod history;
mod hook;
mod hub;
mod ids;
mod im;
mod legacy;
mod limits;
mod metrics;
mod node;
mod outbox;
mod presence;
mod read;
pub mod recall;
mod relation;
mod roles;
mod sequencer;
mod session;
pub mod storage;
mod summary;
mod throttle;
mod types;

pub use accounts::{
    Accounts, Refreshed, Registration, SignedIn, MAX_ACCOUNT, MAX_NICKNAME, MAX_PASSWORD,
};
pub use admin::{
    Admin, AdminMessage, Created, GroupState, NewAccount, Recipients, SendOutcome, Sender, Sent,
    ServerState, UserState, MAX_ADMIN_CONTENT, MAX_BULK_USERS, MAX_MESSAGE_ID, SYSTEM_USER,
};
pub use auth::{
    disabled_secret, hash_password, is_disabled_secret, random_secret, verify_password, Auth,
    Claims, Grant, IssuedToken, JwtAuth,
};
pub use bus::{Bus, BusEvent, LocalBus};
pub use config::EngineConfig;
pub use conversations::{Conversations, DEFAULT_CONVERSATION_LIMIT, MAX_CONVERSATION_LIMIT};
pub use devices::{Devices, MAX_DEVICES, MAX_DEVICE_TOKEN, MAX_PLATFORM};
pub use engine::Engine;
pub use error::{AuthError, Backend, Conflict, Entity, ImError, Result, StorageError};
pub use events::{
    friend_answered, friend_key, friend_removed, friend_requested, message_created,
    message_offline, user_presence, user_registered, EventFilter, EventKind, NewEvent, OutboxEvent,
    OutboxStats, UnknownEventKind,
};
pub use friends::{Friends, MAX_REMARK, MAX_REQUEST_MSG, SEARCH_LIMIT};
pub use groups::{
    GroupInfo, Groups, Joined, MAX_GROUP_AVATAR, MAX_GROUP_NAME, MAX_GROUP_NOTICE, MAX_MUTE_SECONDS,
};
pub use history::{History, DEFAULT_HISTORY_LIMIT, MAX_DELETE_IDS, MAX_HISTORY_LIMIT};
pub use hook::{BeforeSend, Verdict};
pub use ids::{now_ms, Snowflake};
pub use im::Im;
pub use legacy::{legacy_password_hash, LEGACY_SHA256_PREFIX};
pub use limits::{Limits, DEFAULT_LIST_LIMIT, MAX_IDS_PER_CALL, MAX_LIST_LIMIT};
pub use metrics::Metrics;
pub use outbox::Outbox;
pub use presence::{PresenceItem, PRESENCE_BEAT, PRESENCE_EXPIRY, PRESENCE_QUERY_MAX};
pub use read::{ReadAt, ReadOutcome, ReadState};
pub use relation::{DirectMessages, Relation};
pub use roles::{
    GroupSettings, GroupUpdate, HistoryVisible, InvitePolicy, JoinPolicy, JoinRequest, Member,
    MemberState, Role,
};
pub use session::Connection;
pub use storage::{
    AccountStore, BatchCommit, CommitPipeline, ConversationStore, DeviceStore, FriendStore,
    GroupStore, MessageStore, ModerationStore, OutboxStore, Storage,
};
pub use summary::{
    peer_of, ConversationCursor, ConversationPage, ConversationRows, ConversationSettings,
    ConversationSummary, SettingsChange,
};
pub use types::{
    Conversation, Device, FriendRequest, Group, GroupCaps, GroupId, HistoryItem, HistoryPage,
    NewMessage, Page, Paged, PendingMessage, Profile, Receipt, RequestStatus, StoreOutcome,
    StoredMessage, User, UserId,
};

mod memory;
pub use memory::MemoryStorage;

#[cfg(feature = "testkit")]
pub mod testkit;
