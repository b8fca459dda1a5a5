//! [`GroupStore`]: groups and their members.

use async_trait::async_trait;

use crate::error::Result;
use crate::events::NewEvent;
use crate::types::{Group, GroupCaps, GroupId, Page, Profile, UserId};

/// Where groups and their members live. Used by the groups service, and for the access rules
/// of history.
///
/// Membership changes check their [`GroupCaps`] in the same atomic step as the change, so that
/// concurrent joins (on any node sharing the storage) can never take a group past
/// `max_members` or a user past `max_groups_per_user`. The lists are read a page at a time
/// ([`Page`]), each page in one query.
///
/// The changes take the webhook `events` that report them (built by the groups service,
/// which knows who acted; empty when none is wanted) and write them into the outbox in the
/// same transaction as the change, only if the change is made: on any error, nothing.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Creates group `id` owned by `owner`, with the owner and `members` (duplicates ignored)
    /// as members. `Conflict("group")` if the id is taken; `NotFound("user")` if a member does
    /// not exist; `Conflict(GroupFull)` if there would be more than `caps.max_members` members;
    /// `Conflict(TooManyGroups)` if one of them already belongs to `caps.max_groups_per_user`
    /// groups. On any error nothing is created. `events` are written with the group.
    async fn create_group_within(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group>;

    /// [`GroupStore::create_group_within`] with no caps and no events: for seeding and tests
    /// (the groups service always passes its caps).
    async fn create_group(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
    ) -> Result<Group> {
        self.create_group_within(id, name, owner, members, GroupCaps::UNLIMITED, &[])
            .await
    }

    /// Adds users to a group; current members are left as they are (and count for neither
    /// cap). A new member receives (as pending) only messages stored after it joined.
    /// `NotFound("group")`, `NotFound("user")`; `Conflict(GroupFull)` if the group would have
    /// more than `caps.max_members` members; `Conflict(TooManyGroups)` if a new member already
    /// belongs to `caps.max_groups_per_user` groups. On any error nobody is added. `events`
    /// are written with the members (also when every user was a member already).
    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()>;

    /// [`GroupStore::add_members_within`] with no caps and no events: for seeding and tests.
    async fn add_members(&self, group: GroupId, users: &[UserId]) -> Result<()> {
        self.add_members_within(group, users, GroupCaps::UNLIMITED, &[])
            .await
    }

    /// Removes a member; its pending messages of the group are dropped. `NotFound("group")`,
    /// `NotFound("member")`. `events` are written with the removal.
    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()>;

    /// The group, with its member count, if it exists.
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;

    /// The groups `user` belongs to, by id ascending: those with an id above `page.after` if
    /// it is given, at most `page.limit`.
    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>>;

    /// The members of a group, by id ascending: those with an id above `page.after` if it is
    /// given, at most `page.limit` (empty if there is no such group).
    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>>;

    /// Whether `user` is a member of `group`.
    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool>;
}
