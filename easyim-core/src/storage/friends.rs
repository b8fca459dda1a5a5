//! [`FriendStore`]: friendships and friend requests.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{FriendRequest, Profile, UserId};

/// Where friendships and friend requests live. Used by the friends service.
#[async_trait]
pub trait FriendStore: Send + Sync + 'static {
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
}
