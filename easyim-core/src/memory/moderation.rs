//! [`ModerationStore`] for [`MemoryStorage`].

use async_trait::async_trait;

use super::{GroupState, MemoryStorage, State};
use crate::error::{Conflict, Entity, Result, StorageError};
use crate::events::NewEvent;
use crate::relation::Relation;
use crate::roles::{GroupSettings, GroupUpdate, JoinRequest, Member, MemberState, Role};
use crate::storage::ModerationStore;
use crate::types::{Conversation, GroupId, Page, Profile, RequestStatus, UserId};

impl State {
    fn group_mut(&mut self, group: GroupId) -> Result<&mut GroupState> {
        self.groups
            .get_mut(&group)
            .ok_or(StorageError::NotFound(Entity::Group))
    }
}

impl GroupState {
    fn role(&self, user: UserId) -> Role {
        if user == self.owner {
            Role::Owner
        } else if self.admins.contains(&user) {
            Role::Admin
        } else {
            Role::Member
        }
    }
}

#[async_trait]
impl ModerationStore for MemoryStorage {
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>> {
        Ok(self.lock().groups.get(&group).map(|g| g.settings.clone()))
    }

    async fn update_group(
        &self,
        group: GroupId,
        update: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut st = self.lock();
        let g = st.group_mut(group)?;
        let s = &mut g.settings;
        if let Some(name) = &update.name {
            g.name.clone_from(name);
        }
        if let Some(avatar) = &update.avatar {
            s.avatar.clone_from(avatar);
        }
        if let Some(notice) = &update.notice {
            s.notice.clone_from(notice);
        }
        s.join_policy = update.join_policy.unwrap_or(s.join_policy);
        s.invite_policy = update.invite_policy.unwrap_or(s.invite_policy);
        s.history_visible = update.history_visible.unwrap_or(s.history_visible);
        s.mute_all = update.mute_all.unwrap_or(s.mute_all);
        st.outbox.push_all(events);
        Ok(())
    }

    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>> {
        let st = self.lock();
        Ok(st
            .groups
            .get(&group)
            .filter(|g| g.members.contains(&user))
            .map(|g| MemberState {
                role: g.role(user),
                muted_until: g.muted.get(&user).copied().unwrap_or(0),
                joined_seq: g.joined.get(&user).copied().unwrap_or(0),
                mute_all: g.settings.mute_all,
                history_visible: g.settings.history_visible,
            }))
    }

    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut st = self.lock();
        let g = st.group_mut(group)?;
        if !g.members.contains(&user) || g.owner == user {
            return Err(StorageError::NotFound(Entity::Member));
        }
        match role {
            Role::Admin => g.admins.insert(user),
            _ => g.admins.remove(&user),
        };
        st.outbox.push_all(events);
        Ok(())
    }

    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut st = self.lock();
        let g = st.group_mut(group)?;
        if !g.members.contains(&user) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        if until > 0 {
            g.muted.insert(user, until);
        } else {
            g.muted.remove(&user);
        }
        st.outbox.push_all(events);
        Ok(())
    }

    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()> {
        let mut st = self.lock();
        let g = st.group_mut(group)?;
        if !g.members.contains(&to) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        g.admins.remove(&to);
        g.owner = to;
        st.outbox.push_all(events);
        Ok(())
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>> {
        let st = self.lock();
        let Some(g) = st.groups.get(&group) else {
            return Ok(Vec::new());
        };
        Ok(users
            .iter()
            .filter(|u| g.members.contains(u))
            .map(|&user| Member {
                user,
                role: g.role(user),
                muted_until: g.muted.get(&user).copied().unwrap_or(0),
            })
            .collect())
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        let mut st = self.lock();
        if !st.users.contains_key(&blocked) {
            return Err(StorageError::NotFound(Entity::User));
        }
        st.blocks.insert((user, blocked));
        Ok(())
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.lock().blocks.remove(&(user, blocked));
        Ok(())
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let st = self.lock();
        let ids = st
            .blocks
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .map(|&(_, b)| b)
            .filter(|&b| page.after.is_none_or(|after| b > after))
            .take(page.limit);
        Ok(st.profiles(ids))
    }

    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation> {
        let st = self.lock();
        Ok(Relation {
            blocked: st.blocks.contains(&(to, from)),
            friends: st.friends.contains(&(from, to)),
        })
    }

    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>> {
        let st = self.lock();
        Ok(st.groups.get(&group).map_or_else(Vec::new, |g| {
            std::iter::once(g.owner)
                .chain(g.admins.iter().copied())
                .collect()
        }))
    }

    async fn create_join_request(
        &self,
        id: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest> {
        let mut st = self.lock();
        if !st.groups.contains_key(&group) {
            return Err(StorageError::NotFound(Entity::Group));
        }
        if let Some(open) = st
            .join_requests
            .values()
            .find(|r| r.group == group && r.user == user && r.status == RequestStatus::Open)
        {
            return Ok(open.clone());
        }
        if st.join_requests.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Request));
        }
        let request = JoinRequest {
            id,
            group,
            user,
            status: RequestStatus::Open,
        };
        st.join_requests.insert(id, request.clone());
        st.outbox.push_all(events);
        Ok(request)
    }

    async fn join_request(&self, id: u64) -> Result<Option<JoinRequest>> {
        Ok(self.lock().join_requests.get(&id).cloned())
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>> {
        let st = self.lock();
        Ok(st
            .join_requests
            .values()
            .filter(|r| r.group == group && r.status == RequestStatus::Open)
            .filter(|r| page.after.is_none_or(|after| r.id > after))
            .take(page.limit)
            .cloned()
            .collect())
    }

    async fn answer_join_request(&self, id: u64, accept: bool, events: &[NewEvent]) -> Result<()> {
        let mut st = self.lock();
        let r = st
            .join_requests
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::Request))?;
        if r.status != RequestStatus::Open {
            return Err(StorageError::Conflict(Conflict::AlreadyAnswered));
        }
        r.status = if accept {
            RequestStatus::Accepted
        } else {
            RequestStatus::Refused
        };
        st.outbox.push_all(events);
        Ok(())
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()> {
        let mut st = self.lock();
        let g = st
            .groups
            .remove(&group)
            .ok_or(StorageError::NotFound(Entity::Group))?;
        for u in g.members {
            st.memberships.remove(&(u, group));
            st.drop_cursor(u, Conversation::Group(group));
        }
        st.join_requests.retain(|_, r| r.group != group);
        st.outbox.push_all(events);
        Ok(())
    }

    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()> {
        let mut st = self.lock();
        if !st.friends.contains(&(user, friend)) {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        if remark.is_empty() {
            st.remarks.remove(&(user, friend));
        } else {
            st.remarks.insert((user, friend), remark.to_owned());
        }
        Ok(())
    }

    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> Result<Vec<(UserId, String)>> {
        let st = self.lock();
        Ok(friends
            .iter()
            .filter_map(|&f| st.remarks.get(&(user, f)).map(|r| (f, r.clone())))
            .collect())
    }
}
