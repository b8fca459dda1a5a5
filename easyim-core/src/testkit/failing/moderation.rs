//! [`ModerationStore`] for [`FailingStorage`]: every call fails while all calls do.

use super::FailingStorage;
use crate::events::NewEvent;
use crate::relation::Relation;
use crate::roles::{GroupSettings, GroupUpdate, JoinRequest, Member, MemberState, Role};
use crate::storage::ModerationStore;
use crate::types::{GroupId, Page, Profile, UserId};

#[async_trait::async_trait]
impl<S: ModerationStore> ModerationStore for FailingStorage<S> {
    async fn group_settings(&self, group: GroupId) -> crate::Result<Option<GroupSettings>> {
        self.check()?;
        self.inner.group_settings(group).await
    }

    async fn update_group(
        &self,
        group: GroupId,
        update: &GroupUpdate,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.update_group(group, update, events).await
    }

    async fn member_state(
        &self,
        group: GroupId,
        user: UserId,
    ) -> crate::Result<Option<MemberState>> {
        self.check()?;
        self.inner.member_state(group, user).await
    }

    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.set_role(group, user, role, events).await
    }

    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.set_muted_until(group, user, until, events).await
    }

    async fn transfer_owner(
        &self,
        group: GroupId,
        to: UserId,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.transfer_owner(group, to, events).await
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> crate::Result<Vec<Member>> {
        self.check()?;
        self.inner.member_roles(group, users).await
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> crate::Result<()> {
        self.check()?;
        self.inner.block_user(user, blocked).await
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> crate::Result<()> {
        self.check()?;
        self.inner.unblock_user(user, blocked).await
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.blocked_users(user, page).await
    }

    async fn relation(&self, from: UserId, to: UserId) -> crate::Result<Relation> {
        self.check()?;
        self.inner.relation(from, to).await
    }

    async fn group_admins(&self, group: GroupId) -> crate::Result<Vec<UserId>> {
        self.check()?;
        self.inner.group_admins(group).await
    }

    async fn create_join_request(
        &self,
        id: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> crate::Result<JoinRequest> {
        self.check()?;
        self.inner
            .create_join_request(id, group, user, events)
            .await
    }

    async fn join_request(&self, id: u64) -> crate::Result<Option<JoinRequest>> {
        self.check()?;
        self.inner.join_request(id).await
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> crate::Result<Vec<JoinRequest>> {
        self.check()?;
        self.inner.join_requests(group, page).await
    }

    async fn answer_join_request(
        &self,
        id: u64,
        accept: bool,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.answer_join_request(id, accept, events).await
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> crate::Result<()> {
        self.check()?;
        self.inner.dismiss_group(group, events).await
    }

    async fn set_friend_remark(
        &self,
        user: UserId,
        friend: UserId,
        remark: &str,
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.set_friend_remark(user, friend, remark).await
    }

    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> crate::Result<Vec<(UserId, String)>> {
        self.check()?;
        self.inner.friend_remarks(user, friends).await
    }
}
