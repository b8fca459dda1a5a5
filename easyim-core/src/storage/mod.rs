//! The storage traits: one narrow trait per domain, and [`Storage`], all of them together.
//!
//! - [`MessageStore`]: messages, cursors (receipts), pending, history: what the engine uses.
//! - [`AccountStore`]: accounts, token secrets, the server secret.
//! - [`FriendStore`]: friendships and friend requests.
//! - [`GroupStore`]: groups and members.
//! - [`ConversationStore`]: each user's conversation list and its settings in each.
//! - [`ModerationStore`]: group roles, settings and mutes.
//! - [`DeviceStore`]: each user's push devices.
//! - [`OutboxStore`]: the durable outbox of webhook events.
//!
//! And for implementations on a database server: [`CommitPipeline`], which gathers the message
//! batches of a node's connections into few transactions of a [`BatchCommit`].
//!
//! Implementations are shared as `Arc<dyn ...>` by every connection and request, so every
//! method takes `&self` and may be called concurrently. Each method is one logical step and must
//! be atomic: it either commits everything it describes or nothing, and returns only after its
//! effects are durable to the degree the implementation promises (SQLite: committed; see its
//! docs for `synchronous`). A networked database should need one round trip per call.
//!
//! Errors: [`crate::StorageError::NotFound`] and [`crate::StorageError::Conflict`] where a
//! method says so; [`crate::StorageError::Unavailable`] for any backend failure, after which
//! nothing of the call is committed.
//!
//! The kit in `easyim_core::testkit` (feature `testkit`) checks an implementation against these
//! contracts, one entry point per trait.

mod accounts;
mod conversations;
mod devices;
mod friends;
mod groups;
mod messages;
mod moderation;
mod outbox;
pub mod pipeline;

pub use accounts::AccountStore;
pub use conversations::ConversationStore;
pub use devices::DeviceStore;
pub use friends::FriendStore;
pub use groups::GroupStore;
pub use messages::MessageStore;
pub use moderation::ModerationStore;
pub use outbox::OutboxStore;
pub use pipeline::{BatchCommit, CommitPipeline};

/// Every storage trait at once: what the whole domain (the [`crate::Im`] services and the
/// engine) needs. Implemented for any type that implements the narrow traits; hold it as
/// `Arc<dyn Storage>` and hand it where a narrower trait is asked for (it coerces).
pub trait Storage:
    MessageStore
    + AccountStore
    + FriendStore
    + GroupStore
    + ConversationStore
    + ModerationStore
    + DeviceStore
    + OutboxStore
{
}

impl<
        T: MessageStore
            + AccountStore
            + FriendStore
            + GroupStore
            + ConversationStore
            + ModerationStore
            + DeviceStore
            + OutboxStore
            + ?Sized,
    > Storage for T
{
}
