//! The `Storage` trait: everything the engine and the HTTP API keep.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{
    Conversation, FriendRequest, Group, GroupId, HistoryItem, HistoryPage, NewMessage,
    PendingMessage, Profile, Receipt, StoreOutcome, StoredMessage, User, UserId,
};

/// Where easyim keeps accounts, friends, groups and messages.
///
/// Implementations are shared as `Arc<dyn Storage>` by every connection and request, so every
/// method takes `&self` and may be called concurrently. Each method is one logical step and must
/// be atomic: it either commits everything it describes or nothing, and returns only after its
/// effects are durable to the degree the implementation promises (SQLite: committed; see its
/// docs for `synchronous`). A networked database should need one round trip per call.
///
/// Errors: [`crate::StorageError::NotFound`] and [`crate::StorageError::Conflict`] where a
/// method says so; [`crate::StorageError::Unavailable`] for any backend failure, after which
/// nothing of the call is committed.
///
/// `easyim_core::testkit::run_all` (feature `testkit`) checks an implementation against these
/// contracts.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    // ---- accounts -------------------------------------------------------------------------

    /// Creates an account. `Conflict("account")` if the account name is taken; the id is the
    /// caller's (a fresh snowflake).
    async fn create_user(&self, user: User) -> Result<User>;

    /// The account with this id, if any.
    async fn user(&self, id: UserId) -> Result<Option<User>>;

    /// The account with this exact login name, if any.
    async fn user_by_account(&self, account: &str) -> Result<Option<User>>;

    /// Replaces a user's token secret (logout, reset). `NotFound("user")` if there is no such
    /// user.
    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()>;

    /// Accounts whose login name contains `query` (case-sensitive substring), by id, at most
    /// `limit`.
    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>>;

    /// The server-wide token signing secret: the stored one if there is one, else `candidate`,
    /// stored now. Every node sharing the storage gets the same answer.
    async fn server_secret(&self, candidate: &str) -> Result<String>;

    /// Succeeds when the backend answers (for `/healthz`).
    async fn ping(&self) -> Result<()>;

    // ---- friends --------------------------------------------------------------------------

    /// Records a friend request with id `id` from `from` to `to`. `NotFound("user")` if `to`
    /// does not exist; `Conflict("friend")` if they are friends already. If an open request
    /// from `from` to `to` exists, it is returned unchanged instead (idempotent).
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest>;

    /// Friend requests addressed to `to`, newest first.
    async fn friend_requests(&self, to: UserId) -> Result<Vec<FriendRequest>>;

    /// Accepts (both users then list each other, in the same step) or refuses the request `id`
    /// addressed to `to`. `NotFound("request")` if there is no such request addressed to `to`;
    /// `Conflict("answer")` if it was answered already.
    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest>;

    /// The user's friends, by id.
    async fn friends(&self, user: UserId) -> Result<Vec<Profile>>;

    /// Ends a friendship on both sides. `NotFound("friend")` if they are not friends.
    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()>;

    // ---- groups ---------------------------------------------------------------------------

    /// Creates group `id` owned by `owner`, with the owner and `members` (duplicates ignored)
    /// as members. `NotFound("user")` if a member does not exist, and nothing is created.
    async fn create_group(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
    ) -> Result<Group>;

    /// Adds users to a group; current members are left as they are. A new member receives
    /// (as pending) only messages stored after it joined. `NotFound("group")`,
    /// `NotFound("user")`; on either, nobody is added.
    async fn add_members(&self, group: GroupId, users: &[UserId]) -> Result<()>;

    /// Removes a member; its pending messages of the group are dropped. `NotFound("group")`,
    /// `NotFound("member")`.
    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()>;

    /// The group, with its member count, if it exists.
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;

    /// The groups `user` belongs to, by id.
    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>>;

    /// The members of a group, by id (empty if there is no such group).
    async fn group_members(&self, group: GroupId) -> Result<Vec<Profile>>;

    /// Whether `user` is a member of `group`.
    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool>;

    // ---- messages -------------------------------------------------------------------------

    /// Stores a chat message in one atomic step, or explains why not.
    ///
    /// Checks, in this order: SINGLE: the recipient user exists (`NoUser`); GROUP: the group
    /// exists (`NoGroup`) and the sender is a member (`NotMember`). Then idempotency on
    /// (conversation, id): if the id is stored in the conversation already, by the same sender
    /// it is `Duplicate` (nothing written), by another `IdTaken`. Otherwise the message gets the
    /// next `conv_seq` of its conversation (1 for the first; gapless and unique even under
    /// concurrent writers, on every node sharing the storage) and becomes pending for each
    /// recipient, all in the same commit. The message's `timestamp` is stored as given.
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome>;

    /// Stores several chat messages in one step, each exactly as [`Storage::store_message`]
    /// would, in the order given (so one sender's messages to a conversation get increasing
    /// `conv_seq` in that order), and returns one outcome per message, in the same order.
    /// Each message is atomic on its own; if the call fails, some of the messages may have been
    /// stored, and the caller acks none of them (a resend is idempotent, so nothing is lost or
    /// doubled).
    ///
    /// The engine hands over the messages a connection has sent back to back, so a storage that
    /// can write them in one transaction (one round trip, one commit) should override this; the
    /// default stores them one by one.
    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            out.push(self.store_message(m).await?);
        }
        Ok(out)
    }

    /// Records a cumulative receipt: `reader` has the message `id` of `conv` and every earlier
    /// one addressed to it (`Read` implies `Arrived`). The reader's cursor in the conversation
    /// only moves forward. Returns the named message, or `None` (nothing recorded) if it does
    /// not exist in `conv` or `reader` was not one of its recipients (its sender, or not a
    /// member of the group).
    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>>;

    /// Messages pending for `user` (stored for it and not yet covered by an `Arrived` receipt),
    /// whose `order` is above `after`, in increasing `order`, at most `limit`. `order` follows
    /// commit order, so each conversation's messages come in increasing `conv_seq` and the
    /// oldest come first. Start with `after = 0`.
    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>>;

    /// A page of a conversation's history as seen by `viewer` (which the caller has checked may
    /// read it), at most `limit` messages, ordered as [`HistoryPage`] says.
    async fn history(
        &self,
        conv: Conversation,
        viewer: UserId,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>>;
}
