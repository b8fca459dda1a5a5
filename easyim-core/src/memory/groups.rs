//! [`GroupStore`] for [`MemoryStorage`].

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::{GroupState, MemoryStorage};
use crate::error::{Conflict, Entity, Result, StorageError};
use crate::events::NewEvent;
use crate::storage::GroupStore;
use crate::types::{Conversation, Group, GroupCaps, GroupId, Page, Profile, UserId};

#[async_trait]
impl GroupStore for MemoryStorage {
    async fn create_group_within(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group> {
        let mut st = self.lock();
        if st.groups.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Group));
        }
        let all: BTreeSet<UserId> = std::iter::once(owner)
            .chain(members.iter().copied())
            .collect();
        if all.iter().any(|u| !st.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        st.check_caps(0, &all, caps)?;
        let conv = Conversation::Group(id);
        for &u in &all {
            st.ensure_cursor(u, conv, 0);
            st.memberships.insert((u, id));
        }
        let g = GroupState {
            name: name.to_owned(),
            owner,
            members: all,
            settings: Default::default(),
            admins: Default::default(),
            muted: Default::default(),
            joined: Default::default(),
        };
        let record = st.group_record(id, &g);
        st.groups.insert(id, g);
        st.outbox.push_all(events);
        Ok(record)
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut st = self.lock();
        let Some(g) = st.groups.get(&group) else {
            return Err(StorageError::NotFound(Entity::Group));
        };
        if users.iter().any(|u| !st.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        let current = g.members.len();
        let new: BTreeSet<UserId> = users
            .iter()
            .copied()
            .filter(|u| !g.members.contains(u))
            .collect();
        st.check_caps(current, &new, caps)?;
        let conv = Conversation::Group(group);
        // A new member's cursor starts at the newest message: what came before is not for it.
        let last = st.last_seq(conv);
        for u in new {
            if let Some(g) = st.groups.get_mut(&group) {
                g.members.insert(u);
                g.joined.insert(u, last);
            }
            st.memberships.insert((u, group));
            st.ensure_cursor(u, conv, last);
        }
        st.outbox.push_all(events);
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()> {
        let mut st = self.lock();
        let g = st
            .groups
            .get_mut(&group)
            .ok_or(StorageError::NotFound(Entity::Group))?;
        if !g.members.remove(&user) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        g.forget_member(user);
        st.memberships.remove(&(user, group));
        // Without its cursor nothing of the group is pending for it any more, and a later
        // rejoin starts a fresh cursor at the then newest message.
        st.drop_cursor(user, Conversation::Group(group));
        st.outbox.push_all(events);
        Ok(())
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        let st = self.lock();
        Ok(st.groups.get(&id).map(|g| st.group_record(id, g)))
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let st = self.lock();
        let from = page.after.map_or(GroupId::MIN, |a| a.saturating_add(1));
        if page.after == Some(GroupId::MAX) {
            return Ok(Vec::new());
        }
        Ok(st
            .memberships
            .range((user, from)..=(user, GroupId::MAX))
            .filter_map(|&(_, id)| st.groups.get(&id).map(|g| st.group_record(id, g)))
            .take(page.limit)
            .collect())
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let st = self.lock();
        let Some(g) = st.groups.get(&group) else {
            return Ok(Vec::new());
        };
        let ids = g
            .members
            .iter()
            .copied()
            .filter(|&u| page.after.is_none_or(|after| u > after))
            .take(page.limit);
        Ok(st.profiles(ids))
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        let st = self.lock();
        Ok(st
            .groups
            .get(&group)
            .is_some_and(|g| g.members.contains(&user)))
    }
}
