//! [`ModerationStore`]: the roles, settings and mutes of groups, and the blocks between users.

use async_trait::async_trait;

use crate::error::Result;
use crate::events::NewEvent;
use crate::relation::Relation;
use crate::roles::{GroupSettings, GroupUpdate, JoinRequest, Member, MemberState, Role};
use crate::types::{GroupId, Page, Profile, UserId};

/// Where a group's administration lives: its settings (policies, notice, group-wide mute) and
/// each member's role, mute and join position; and which users each user blocked. Used by the
/// groups service, by the send path (who may speak, who may write to whom), by history (what
/// a newcomer may read) and by friend requests (a blocked user's are refused).
///
/// The owner is the group's `owner` ([`crate::Group::owner`]); the other members are admins or
/// members. A member's row goes with its membership: removing a member forgets its role and
/// mute, and a rejoin starts as a member, unmuted, at the then newest message.
///
/// The changes to a group take the webhook `events` that report them (built by the groups
/// service, which knows who acted; empty when none is wanted) and write them into the outbox
/// in the same transaction as the change, only if the change is made: on any error (or when
/// an existing open join request is returned), nothing.
#[async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// The group's settings, if it exists. A group nobody changed has
    /// [`GroupSettings::default`].
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>>;

    /// Applies every `Some` field of `update` in one step (the name too). `NotFound("group")`.
    async fn update_group(
        &self,
        group: GroupId,
        update: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()>;

    /// The standing of `user` in `group`, or `None` if the group does not exist or `user` is
    /// not a member. `joined_seq` is the group's last `conv_seq` at the moment the member was
    /// added (0 for the members a group is created with).
    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>>;

    /// Makes a member an admin or a member again (`role` is never [`Role::Owner`]: the owner
    /// changes with [`ModerationStore::transfer_owner`]). `NotFound("group")`,
    /// `NotFound("member")` (the owner counts as not found here: its role is not set this way).
    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> Result<()>;

    /// Mutes a member until `until` (milliseconds since the Unix epoch; 0 lifts it).
    /// `NotFound("group")`, `NotFound("member")`.
    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> Result<()>;

    /// Makes member `to` the owner, and the previous owner an ordinary member, in one step.
    /// `NotFound("group")`, `NotFound("member")` if `to` is not a member.
    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()>;

    /// The role and mute of those of `users` who are members of `group` (others are left
    /// out), in the order of `users`. For showing a page of members.
    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>>;

    /// Makes `user` block `blocked` (blocking twice is blocking once). `NotFound("user")` if
    /// `blocked` does not exist.
    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()>;

    /// Lifts a block of `user` on `blocked`; lifting one that is not there changes nothing.
    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()>;

    /// The users `user` blocked, by id ascending: those with an id above `page.after` if it is
    /// given, at most `page.limit`.
    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>>;

    /// How `to` stands to `from`: whether `to` blocked `from`, whether they are friends.
    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation>;

    /// The owner and the admins of `group` (empty if there is no such group): who is told of
    /// a join request.
    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>>;

    /// Files request `id` of `user` to join `group`. If `user` has an open request for the
    /// group already, that one is returned and nothing is stored (one open request per user
    /// and group, even when two nodes file one at the same time). `NotFound("group")`,
    /// `Conflict("request")` if the id is taken.
    async fn create_join_request(
        &self,
        id: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest>;

    /// The request, whatever its state.
    async fn join_request(&self, id: u64) -> Result<Option<JoinRequest>>;

    /// The open requests of `group`, by id ascending: those with an id above `page.after` if
    /// it is given, at most `page.limit`.
    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>>;

    /// Closes an open request as accepted or refused (making the member is the groups
    /// service's step, before this one). `NotFound("request")`, `Conflict(AlreadyAnswered)`
    /// if it was answered already (by another admin, say).
    async fn answer_join_request(&self, id: u64, accept: bool, events: &[NewEvent]) -> Result<()>;

    /// Deletes `group`: its members (and so their pending messages of it), roles, settings and
    /// join requests. Its stored messages stay (no member can read them any more).
    /// `NotFound("group")`.
    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()>;

    /// Sets `user`'s remark on its friend `friend` (empty clears it). `NotFound("friend")` if
    /// they are not friends. The remark goes with the friendship.
    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()>;

    /// `user`'s remarks on those of `friends` that have one (others are left out).
    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> Result<Vec<(UserId, String)>>;
}
