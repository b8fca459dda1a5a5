//! [`GroupStore`]: groups and their members.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{Group, GroupId, Profile, UserId};

/// Where groups and their members live. Used by the groups service, and for the access rules
/// of history.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
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
}
