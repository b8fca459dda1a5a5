//! [`ModerationStore`] for [`MysqlStorage`]: group settings, roles and mutes; blocks; join
//! requests; friend remarks.
//!
//! An `UPDATE` that sets a row to what it holds already reports no row changed (the
//! connection does not ask for found rows, so that `ON DUPLICATE KEY UPDATE` tells an insert
//! from a duplicate): where "changed nothing" must be told from "found nothing", a second
//! read looks.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, GroupId, GroupSettings, GroupUpdate, HistoryVisible,
    InvitePolicy, JoinPolicy, JoinRequest, Member, MemberState, ModerationStore, NewEvent, Page,
    Profile, Relation, RequestStatus, Role, StorageError, UserId,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use crate::error::{DbError, Result};
use crate::outbox::insert_events;
use crate::rows::{exec_count, get, id, map_rows, profile_row, rows_in, to_i64, uid, vals};
use crate::{transaction, MysqlStorage};

/// The role of `user` whose `members.role` is `code` in a group owned by `owner`.
fn role_of(user: i64, owner: i64, code: i64) -> Role {
    if user == owner {
        Role::Owner
    } else {
        Role::from_code(code)
    }
}

fn join_request_row(r: &Row) -> Result<JoinRequest, DbError> {
    Ok(JoinRequest {
        id: uid(r, 0)?,
        group: uid(r, 1)?,
        user: uid(r, 2)?,
        status: RequestStatus::from_i64(get(r, 3)?),
    })
}

const OPEN_JOIN_REQUEST: &str = "SELECT id, group_id, user_id, status FROM join_requests
    WHERE group_id = ? AND user_id = ? AND status = 0";

impl MysqlStorage {
    /// Whether `sql` finds a row.
    async fn exists(&self, sql: &str, params: Vec<Value>) -> Result<bool, DbError> {
        Ok(self.row(sql, params).await?.is_some())
    }

    /// The answer for an update of one member's row that found nothing: `NotFound(Group)`
    /// if there is no such group, else `NotFound(Member)`.
    async fn missing_member(&self, group: GroupId) -> Result<(), DbError> {
        let exists = self
            .exists("SELECT 1 FROM chat_groups WHERE id = ?", vals![id(group)])
            .await?;
        Err(StorageError::NotFound(if exists {
            Entity::Member
        } else {
            Entity::Group
        })
        .into())
    }
}

#[async_trait]
impl ModerationStore for MysqlStorage {
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>> {
        let row = self
            .row(
                "SELECT avatar, notice, join_policy, invite_policy, history_visible, mute_all
                 FROM chat_groups WHERE id = ?",
                vals![id(group)],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(GroupSettings {
            avatar: get(&r, 0)?,
            notice: get(&r, 1)?,
            join_policy: JoinPolicy::from_code(get(&r, 2)?),
            invite_policy: InvitePolicy::from_code(get(&r, 3)?),
            history_visible: HistoryVisible::from_code(get(&r, 4)?),
            mute_all: get(&r, 5)?,
        }))
    }

    async fn update_group(
        &self,
        group: GroupId,
        u: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()> {
        let found = self
            .update_reporting(
                "UPDATE chat_groups SET
                    name = COALESCE(?, name),
                    avatar = COALESCE(?, avatar),
                    notice = COALESCE(?, notice),
                    join_policy = COALESCE(?, join_policy),
                    invite_policy = COALESCE(?, invite_policy),
                    history_visible = COALESCE(?, history_visible),
                    mute_all = COALESCE(?, mute_all)
                 WHERE id = ?",
                vals![
                    u.name.clone(),
                    u.avatar.clone(),
                    u.notice.clone(),
                    u.join_policy.map(JoinPolicy::code),
                    u.invite_policy.map(InvitePolicy::code),
                    u.history_visible.map(HistoryVisible::code),
                    u.mute_all,
                    id(group)
                ],
                "SELECT 1 FROM chat_groups WHERE id = ?",
                vals![id(group)],
                events,
            )
            .await?;
        if !found {
            return Err(StorageError::NotFound(Entity::Group));
        }
        Ok(())
    }

    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>> {
        let row = self
            .row(
                "SELECT g.owner, m.role, m.muted_until, m.joined_seq, g.mute_all, g.history_visible
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = ? AND m.user_id = ?",
                vals![id(group), id(user)],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(MemberState {
            role: role_of(id(user), get(&r, 0)?, get(&r, 1)?),
            muted_until: get(&r, 2)?,
            joined_seq: uid(&r, 3)?,
            mute_all: get(&r, 4)?,
            history_visible: HistoryVisible::from_code(get(&r, 5)?),
        }))
    }

    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> Result<()> {
        let role = if role == Role::Admin {
            Role::Admin
        } else {
            Role::Member
        };
        let found = self
            .update_reporting(
                "UPDATE members m JOIN chat_groups g ON g.id = m.group_id SET m.role = ?
                 WHERE m.group_id = ? AND m.user_id = ? AND m.user_id <> g.owner",
                vals![role.code(), id(group), id(user)],
                "SELECT 1 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = ? AND m.user_id = ? AND m.user_id <> g.owner",
                vals![id(group), id(user)],
                events,
            )
            .await?;
        if !found {
            self.missing_member(group).await?;
        }
        Ok(())
    }

    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> Result<()> {
        let found = self
            .update_reporting(
                "UPDATE members SET muted_until = ? WHERE group_id = ? AND user_id = ?",
                vals![until.max(0), id(group), id(user)],
                "SELECT 1 FROM members WHERE group_id = ? AND user_id = ?",
                vals![id(group), id(user)],
                events,
            )
            .await?;
        if !found {
            self.missing_member(group).await?;
        }
        Ok(())
    }

    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()> {
        let member = transaction!(self, |tx| {
            let member: Option<i64> = tx
                .exec_first(
                    "SELECT user_id FROM members WHERE group_id = ? AND user_id = ? FOR UPDATE",
                    vals![id(group), id(to)],
                )
                .await?;
            if member.is_some() {
                // The new owner's admin role goes: the owner's role is the group's.
                tx.exec_drop(
                    "UPDATE members SET role = 0 WHERE group_id = ? AND user_id = ?",
                    vals![id(group), id(to)],
                )
                .await?;
                tx.exec_drop(
                    "UPDATE chat_groups SET owner = ? WHERE id = ?",
                    vals![id(to), id(group)],
                )
                .await?;
                insert_events(&mut tx, events).await?;
            }
            member.is_some()
        })?;
        if !member {
            self.missing_member(group).await?;
        }
        Ok(())
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>> {
        let ids: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        let rows = {
            let mut conn = self.conn().await?;
            rows_in(
                &mut conn,
                "SELECT m.user_id, g.owner, m.role, m.muted_until
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = ? AND m.user_id IN ({list})",
                &[Value::from(id(group))],
                &ids,
            )
            .await?
        };
        let mut found = map_rows(rows, |r| {
            Ok(Member {
                user: uid(r, 0)?,
                role: role_of(get(r, 0)?, get(r, 1)?, get(r, 2)?),
                muted_until: get(r, 3)?,
            })
        })?;
        found.sort_by_key(|m| users.iter().position(|&u| u == m.user));
        Ok(found)
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        // The row goes in only if the blocked user exists.
        let n = self
            .execute(
                "INSERT INTO blocks (user_id, blocked_id)
                 SELECT ?, id FROM users WHERE id = ?
                 ON DUPLICATE KEY UPDATE blocked_id = blocks.blocked_id",
                vals![id(user), id(blocked)],
            )
            .await?;
        if n == 0
            && !self
                .exists("SELECT 1 FROM users WHERE id = ?", vals![id(blocked)])
                .await?
        {
            return Err(StorageError::NotFound(Entity::User));
        }
        Ok(())
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.execute(
            "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?",
            vals![id(user), id(blocked)],
        )
        .await?;
        Ok(())
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .rows(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.user_id = ? AND b.blocked_id > ? ORDER BY b.blocked_id LIMIT ?",
                vals![id(user), after, to_i64(page.limit)],
            )
            .await?;
        Ok(map_rows(found, profile_row)?)
    }

    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation> {
        let r = self
            .row(
                "SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?),
                        EXISTS (SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?)",
                vals![id(to), id(from), id(from), id(to)],
            )
            .await?;
        let Some(r) = r else {
            return Ok(Relation::default());
        };
        Ok(Relation {
            blocked: get(&r, 0)?,
            friends: get(&r, 1)?,
        })
    }

    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>> {
        let found = self
            .rows(
                "SELECT owner FROM chat_groups WHERE id = ?
                 UNION ALL
                 SELECT user_id FROM members WHERE group_id = ? AND role = 1",
                vals![id(group), id(group)],
            )
            .await?;
        Ok(map_rows(found, |r| uid(r, 0))?)
    }

    async fn create_join_request(
        &self,
        request: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest> {
        let found = transaction!(self, |tx| {
            let exists: Option<i64> = tx
                .exec_first("SELECT id FROM chat_groups WHERE id = ?", vals![id(group)])
                .await?;
            if exists.is_none() {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            let open: Option<Row> = tx
                .exec_first(OPEN_JOIN_REQUEST, vals![id(group), id(user)])
                .await?;
            if let Some(open) = open {
                join_request_row(&open)?
            } else {
                // A taken id, or an open request of the user stored by another node since
                // (the unique index on open requests), inserts nothing.
                let n = exec_count(
                    &mut tx,
                    "INSERT INTO join_requests (id, group_id, user_id, status)
                     VALUES (?, ?, ?, 0) ON DUPLICATE KEY UPDATE id = id",
                    vals![id(request), id(group), id(user)],
                )
                .await?;
                if n == 1 {
                    insert_events(&mut tx, events).await?;
                    JoinRequest {
                        id: request,
                        group,
                        user,
                        status: RequestStatus::Open,
                    }
                } else {
                    let open: Option<Row> = tx
                        .exec_first(OPEN_JOIN_REQUEST, vals![id(group), id(user)])
                        .await?;
                    match open {
                        Some(open) => join_request_row(&open)?,
                        None => return Err(StorageError::Conflict(Conflict::Request).into()),
                    }
                }
            }
        })?;
        Ok(found)
    }

    async fn join_request(&self, request: u64) -> Result<Option<JoinRequest>> {
        let row = self
            .row(
                "SELECT id, group_id, user_id, status FROM join_requests WHERE id = ?",
                vals![id(request)],
            )
            .await?;
        Ok(row.as_ref().map(join_request_row).transpose()?)
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .rows(
                "SELECT id, group_id, user_id, status FROM join_requests
                 WHERE group_id = ? AND status = 0 AND id > ? ORDER BY id LIMIT ?",
                vals![id(group), after, to_i64(page.limit)],
            )
            .await?;
        Ok(map_rows(found, join_request_row)?)
    }

    async fn answer_join_request(
        &self,
        request: u64,
        accept: bool,
        events: &[NewEvent],
    ) -> Result<()> {
        let status: i32 = if accept { 1 } else { 2 };
        let answered = transaction!(self, |tx| {
            let n = exec_count(
                &mut tx,
                "UPDATE join_requests SET status = ? WHERE id = ? AND status = 0",
                vals![status, id(request)],
            )
            .await?;
            if n > 0 {
                insert_events(&mut tx, events).await?;
            }
            n > 0
        })?;
        if answered {
            return Ok(());
        }
        let exists = self
            .exists(
                "SELECT 1 FROM join_requests WHERE id = ?",
                vals![id(request)],
            )
            .await?;
        Err(if exists {
            StorageError::Conflict(Conflict::AlreadyAnswered)
        } else {
            StorageError::NotFound(Entity::Request)
        })
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()> {
        let conv = Conversation::Group(group).key();
        transaction!(self, |tx| {
            let n = exec_count(
                &mut tx,
                "DELETE FROM chat_groups WHERE id = ?",
                vals![id(group)],
            )
            .await?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            tx.exec_drop("DELETE FROM members WHERE group_id = ?", vals![id(group)])
                .await?;
            tx.exec_drop("DELETE FROM cursors WHERE conv = ?", vals![conv.as_str()])
                .await?;
            tx.exec_drop(
                "DELETE FROM join_requests WHERE group_id = ?",
                vals![id(group)],
            )
            .await?;
            insert_events(&mut tx, events).await?;
        })?;
        Ok(())
    }

    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()> {
        let n = self
            .execute(
                "UPDATE friends SET remark = ? WHERE user_id = ? AND friend_id = ?",
                vals![remark, id(user), id(friend)],
            )
            .await?;
        if n == 0
            && !self
                .exists(
                    "SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?",
                    vals![id(user), id(friend)],
                )
                .await?
        {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        Ok(())
    }

    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> Result<Vec<(UserId, String)>> {
        let ids: Vec<i64> = friends.iter().map(|&f| id(f)).collect();
        let rows = {
            let mut conn = self.conn().await?;
            rows_in(
                &mut conn,
                "SELECT friend_id, remark FROM friends
                 WHERE user_id = ? AND remark <> '' AND friend_id IN ({list})",
                &[Value::from(id(user))],
                &ids,
            )
            .await?
        };
        let mut out = map_rows(rows, |r| Ok((uid(r, 0)?, get::<String>(r, 1)?)))?;
        out.sort_by_key(|(f, _)| friends.iter().position(|x| x == f));
        Ok(out)
    }
}
