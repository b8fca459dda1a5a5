//! The `ModerationStore` part of [`TableStorage`]: group settings, roles, mutes, join requests;
//! blocks and friend remarks.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, GroupId, GroupSettings, GroupUpdate, JoinRequest, Member,
    MemberState, ModerationStore, NewEvent, Page, Profile, Relation, RequestStatus, Result, Role,
    StorageError, UserId,
};

use super::{TableStorage, Tables};

impl Tables {
    /// `NotFound` unless `user` is a member of `group` (the group checked first).
    fn check_member(&self, group: GroupId, user: UserId) -> Result<()> {
        if !self.groups.contains_key(&group) {
            return Err(StorageError::NotFound(Entity::Group));
        }
        if !self.members.contains(&(group, user)) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        Ok(())
    }

    fn member(&self, group: GroupId, user: UserId) -> Option<Member> {
        let (_, owner) = self.groups.get(&group)?;
        if !self.members.contains(&(group, user)) {
            return None;
        }
        let (admin, muted_until, _) = self
            .member_rows
            .get(&(group, user))
            .copied()
            .unwrap_or_default();
        let role = match (user == *owner, admin) {
            (true, _) => Role::Owner,
            (false, true) => Role::Admin,
            (false, false) => Role::Member,
        };
        Some(Member {
            user,
            role,
            muted_until,
        })
    }

    fn row(&mut self, group: GroupId, user: UserId) -> &mut (bool, i64, u64) {
        self.member_rows.entry((group, user)).or_default()
    }
}

#[async_trait]
impl ModerationStore for TableStorage {
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>> {
        let db = self.db();
        Ok(db
            .groups
            .contains_key(&group)
            .then(|| db.settings.get(&group).cloned().unwrap_or_default()))
    }

    async fn update_group(
        &self,
        group: GroupId,
        u: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut db = self.db();
        let Some((name, _)) = db.groups.get_mut(&group) else {
            return Err(StorageError::NotFound(Entity::Group));
        };
        if let Some(new) = &u.name {
            name.clone_from(new);
        }
        let s = db.settings.entry(group).or_default();
        if let Some(avatar) = &u.avatar {
            s.avatar.clone_from(avatar);
        }
        if let Some(notice) = &u.notice {
            s.notice.clone_from(notice);
        }
        s.join_policy = u.join_policy.unwrap_or(s.join_policy);
        s.invite_policy = u.invite_policy.unwrap_or(s.invite_policy);
        s.history_visible = u.history_visible.unwrap_or(s.history_visible);
        s.mute_all = u.mute_all.unwrap_or(s.mute_all);
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>> {
        let db = self.db();
        let Some(m) = db.member(group, user) else {
            return Ok(None);
        };
        let settings = db.settings.get(&group).cloned().unwrap_or_default();
        let joined_seq = db.member_rows.get(&(group, user)).map_or(0, |r| r.2);
        Ok(Some(MemberState {
            role: m.role,
            muted_until: m.muted_until,
            joined_seq,
            mute_all: settings.mute_all,
            history_visible: settings.history_visible,
        }))
    }

    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut db = self.db();
        db.check_member(group, user)?;
        if db
            .groups
            .get(&group)
            .is_some_and(|(_, owner)| *owner == user)
        {
            return Err(StorageError::NotFound(Entity::Member));
        }
        db.row(group, user).0 = role == Role::Admin;
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut db = self.db();
        db.check_member(group, user)?;
        db.row(group, user).1 = until.max(0);
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()> {
        let mut db = self.db();
        db.check_member(group, to)?;
        db.row(group, to).0 = false;
        if let Some((_, owner)) = db.groups.get_mut(&group) {
            *owner = to;
        }
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>> {
        let db = self.db();
        Ok(users.iter().filter_map(|&u| db.member(group, u)).collect())
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        let mut db = self.db();
        if !db.users.contains_key(&blocked) {
            return Err(StorageError::NotFound(Entity::User));
        }
        db.blocks.insert((user, blocked));
        Ok(())
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.db().blocks.remove(&(user, blocked));
        Ok(())
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let db = self.db();
        let ids = db
            .blocks
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .map(|&(_, b)| b)
            .filter(|&b| page.after.is_none_or(|a| b > a))
            .take(page.limit);
        Ok(db.profiles(ids))
    }

    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation> {
        let db = self.db();
        Ok(Relation {
            blocked: db.blocks.contains(&(to, from)),
            friends: db.friends.contains(&(from, to)),
        })
    }

    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>> {
        let db = self.db();
        let Some((_, owner)) = db.groups.get(&group) else {
            return Ok(Vec::new());
        };
        let admins = db
            .member_rows
            .iter()
            .filter(|((g, _), row)| *g == group && row.0)
            .map(|((_, u), _)| *u);
        Ok(std::iter::once(*owner).chain(admins).collect())
    }

    async fn create_join_request(
        &self,
        id: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest> {
        let mut db = self.db();
        if !db.groups.contains_key(&group) {
            return Err(StorageError::NotFound(Entity::Group));
        }
        let open = db
            .join_requests
            .values()
            .find(|r| r.group == group && r.user == user && r.status == RequestStatus::Open);
        if let Some(open) = open {
            return Ok(open.clone());
        }
        if db.join_requests.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Request));
        }
        let request = JoinRequest {
            id,
            group,
            user,
            status: RequestStatus::Open,
        };
        db.join_requests.insert(id, request.clone());
        db.outbox.insert_all(events);
        Ok(request)
    }

    async fn join_request(&self, id: u64) -> Result<Option<JoinRequest>> {
        Ok(self.db().join_requests.get(&id).cloned())
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>> {
        let db = self.db();
        Ok(db
            .join_requests
            .values()
            .filter(|r| r.group == group && r.status == RequestStatus::Open)
            .filter(|r| page.after.is_none_or(|a| r.id > a))
            .take(page.limit)
            .cloned()
            .collect())
    }

    async fn answer_join_request(&self, id: u64, accept: bool, events: &[NewEvent]) -> Result<()> {
        let mut db = self.db();
        let r = db
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
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()> {
        let mut db = self.db();
        if db.groups.remove(&group).is_none() {
            return Err(StorageError::NotFound(Entity::Group));
        }
        let members: Vec<UserId> = db.member_ids(group).collect();
        let conv = Conversation::Group(group);
        for u in members {
            db.members.remove(&(group, u));
            db.member_rows.remove(&(group, u));
            db.drop_pending(u, |m| m.conversation() == conv);
            db.receipts.remove(&(u, conv));
        }
        db.settings.remove(&group);
        db.join_requests.retain(|_, r| r.group != group);
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()> {
        let mut db = self.db();
        if !db.friends.contains(&(user, friend)) {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        if remark.is_empty() {
            db.remarks.remove(&(user, friend));
        } else {
            db.remarks.insert((user, friend), remark.to_owned());
        }
        Ok(())
    }

    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> Result<Vec<(UserId, String)>> {
        let db = self.db();
        Ok(friends
            .iter()
            .filter_map(|&f| db.remarks.get(&(user, f)).map(|r| (f, r.clone())))
            .collect())
    }
}
