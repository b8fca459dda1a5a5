//! [`FriendStore`]: friendships and friend requests.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{FriendRequest, Page, Profile, UserId};

/// Where friendships and friend requests live. Used by the friends service.
///
/// The lists are read a page at a time ([`Page`]), each page in one query (keyset pagination:
/// an indexed range read from the page's key, never an offset).
///
/// The changes write the webhook events that report them, in the same transaction and only
/// if the change is made, for the kinds [`crate::OutboxStore::event_filter`] selects (each
/// change knows who acted: the asker, the answerer, the remover): a new request its
/// `friend.requested` ([`crate::friend_requested`]), an answer its `friend.accepted` or
/// `friend.refused` ([`crate::friend_answered`]), a removal its `friend.removed`
/// ([`crate::friend_removed`]).
#[async_trait]
pub trait FriendStore: Send + Sync + 'static {
    /// Records a friend request with id `id` from `from` to `to`. `NotFound("user")` if `to`
    /// does not exist; `Conflict("friend")` if they are friends already. If an open request
    /// from `from` to `to` exists, it is returned unchanged instead (idempotent, and no event
    /// is written).
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest>;

    /// Friend requests addressed to `to`, newest first (in the reverse order they were first
    /// stored): those stored before the request whose id is `page.after` if it is given (none
    /// if there is no such request), at most `page.limit`.
    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>>;

    /// Accepts (both users then list each other, in the same step) or refuses the request `id`
    /// addressed to `to`. `NotFound("request")` if there is no such request addressed to `to`;
    /// `Conflict("answer")` if it was answered already.
    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest>;

    /// The user's friends, by id ascending: those with an id above `page.after` if it is given,
    /// at most `page.limit`.
    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>>;

    /// How many friends the user has (all of them, whatever page is read).
    async fn friend_count(&self, user: UserId) -> Result<u64>;

    /// Ends a friendship on both sides. `NotFound("friend")` if they are not friends.
    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()>;
}
