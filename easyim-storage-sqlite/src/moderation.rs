//! [`ModerationStore`] for [`SqliteStorage`]: group settings, roles and mutes; blocks.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, GroupId, GroupSettings, GroupUpdate, HistoryVisible,
    InvitePolicy, JoinPolicy, JoinRequest, Member, MemberState, ModerationStore, NewEvent, Page,
    Profile, Relation, RequestStatus, Role, StorageError, UserId,
};
use rusqlite::{params, OptionalExtension, Row};

use crate::error::{DbError, Result};
use crate::outbox::insert_events;
use crate::rows::{are_friends, group_exists, id, limit_i64, profile_row, to_i64, user_exists};
use crate::SqliteStorage;

/// `NotFound(Group)` unless the group exists, then `NotFound(Member)` if `changed` is 0: the
/// answer for an update of one member's row.
fn member_changed(c: &rusqlite::Connection, group: i64, changed: usize) -> Result<(), DbError> {
    if changed > 0 {
        Ok(())
    } else if group_exists(c, group)? {
        Err(StorageError::NotFound(Entity::Member).into())
    } else {
        Err(StorageError::NotFound(Entity::Group).into())
    }
}

fn join_request_row(r: &Row<'_>) -> rusqlite::Result<JoinRequest> {
    Ok(JoinRequest {
        id: r.get::<_, i64>(0)? as u64,
        group: r.get::<_, i64>(1)? as u64,
        user: r.get::<_, i64>(2)? as u64,
        status: RequestStatus::from_i64(r.get(3)?),
    })
}

/// The role of a member whose `members.role` is `code` in a group owned by `owner`.
fn role_of(user: i64, owner: i64, code: i64) -> Role {
    if user == owner {
        Role::Owner
    } else {
        Role::from_code(code)
    }
}

#[async_trait]
impl ModerationStore for SqliteStorage {
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT avatar, notice, join_policy, invite_policy, history_visible, mute_all
                     FROM chat_groups WHERE id = ?1",
                )?
                .query_row([id(group)], |r| {
                    Ok(GroupSettings {
                        avatar: r.get(0)?,
                        notice: r.get(1)?,
                        join_policy: JoinPolicy::from_code(r.get(2)?),
                        invite_policy: InvitePolicy::from_code(r.get(3)?),
                        history_visible: HistoryVisible::from_code(r.get(4)?),
                        mute_all: r.get(5)?,
                    })
                })
                .optional()?;
            Ok(row)
        })
        .await
    }

    async fn update_group(
        &self,
        group: GroupId,
        update: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()> {
        let u = update.clone();
        let events = events.to_vec();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE chat_groups SET
                        name = COALESCE(?2, name),
                        avatar = COALESCE(?3, avatar),
                        notice = COALESCE(?4, notice),
                        join_policy = COALESCE(?5, join_policy),
                        invite_policy = COALESCE(?6, invite_policy),
                        history_visible = COALESCE(?7, history_visible),
                        mute_all = COALESCE(?8, mute_all)
                     WHERE id = ?1",
                )?
                .execute(params![
                    id(group),
                    u.name,
                    u.avatar,
                    u.notice,
                    u.join_policy.map(JoinPolicy::code),
                    u.invite_policy.map(InvitePolicy::code),
                    u.history_visible.map(HistoryVisible::code),
                    u.mute_all,
                ])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            insert_events(c, &events)?;
            Ok(())
        })
        .await
    }

    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT g.owner, m.role, m.muted_until, m.joined_seq, g.mute_all,
                            g.history_visible
                     FROM members m JOIN chat_groups g ON g.id = m.group_id
                     WHERE m.group_id = ?1 AND m.user_id = ?2",
                )?
                .query_row([id(group), id(user)], |r| {
                    Ok(MemberState {
                        role: role_of(id(user), r.get(0)?, r.get(1)?),
                        muted_until: r.get(2)?,
                        joined_seq: r.get::<_, i64>(3)? as u64,
                        mute_all: r.get(4)?,
                        history_visible: HistoryVisible::from_code(r.get(5)?),
                    })
                })
                .optional()?;
            Ok(row)
        })
        .await
    }

    async fn set_role(
        &self,
        group: GroupId,
        user: UserId,
        role: Role,
        events: &[NewEvent],
    ) -> Result<()> {
        let events = events.to_vec();
        let code = if role == Role::Admin {
            Role::Admin.code()
        } else {
            Role::Member.code()
        };
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2
                     AND user_id <> (SELECT owner FROM chat_groups WHERE id = ?1)",
                )?
                .execute(params![id(group), id(user), code])?;
            member_changed(c, id(group), n)?;
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn set_muted_until(
        &self,
        group: GroupId,
        user: UserId,
        until: i64,
        events: &[NewEvent],
    ) -> Result<()> {
        let events = events.to_vec();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE members SET muted_until = ?3 WHERE group_id = ?1 AND user_id = ?2",
                )?
                .execute(params![id(group), id(user), until.max(0)])?;
            member_changed(c, id(group), n)?;
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()> {
        let events = events.to_vec();
        self.write(move |c| {
            // The new owner's row loses its admin role: the owner's role is the group's.
            let n = c
                .prepare_cached("UPDATE members SET role = 0 WHERE group_id = ?1 AND user_id = ?2")?
                .execute([id(group), id(to)])?;
            member_changed(c, id(group), n)?;
            c.prepare_cached("UPDATE chat_groups SET owner = ?2 WHERE id = ?1")?
                .execute([id(group), id(to)])?;
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>> {
        let users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT g.owner, m.role, m.muted_until
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = ?1 AND m.user_id = ?2",
            )?;
            let mut out = Vec::with_capacity(users.len());
            for user in users {
                let row = stmt
                    .query_row([id(group), user], |r| {
                        Ok(Member {
                            user: user as u64,
                            role: role_of(user, r.get(0)?, r.get(1)?),
                            muted_until: r.get(2)?,
                        })
                    })
                    .optional()?;
                out.extend(row);
            }
            Ok(out)
        })
        .await
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.write(move |c| {
            if !user_exists(c, id(blocked))? {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            c.prepare_cached("INSERT OR IGNORE INTO blocks (user_id, blocked_id) VALUES (?1, ?2)")?
                .execute([id(user), id(blocked)])?;
            Ok(())
        })
        .await
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM blocks WHERE user_id = ?1 AND blocked_id = ?2")?
                .execute([id(user), id(blocked)])?;
            Ok(())
        })
        .await
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.user_id = ?1 AND b.blocked_id > ?2 ORDER BY b.blocked_id LIMIT ?3",
            )?;
            let rows = stmt.query_map([id(user), after, limit_i64(page.limit)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation> {
        self.read(move |c| {
            let blocked: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = ?1 AND blocked_id = ?2)",
                )?
                .query_row([id(to), id(from)], |r| r.get(0))?;
            Ok(Relation {
                blocked,
                friends: are_friends(c, id(from), id(to))?,
            })
        })
        .await
    }

    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT owner FROM chat_groups WHERE id = ?1
                 UNION ALL
                 SELECT user_id FROM members WHERE group_id = ?1 AND role = 1",
            )?;
            let rows = stmt.query_map([id(group)], |r| Ok(r.get::<_, i64>(0)? as u64))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn create_join_request(
        &self,
        request: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest> {
        let events = events.to_vec();
        self.write(move |c| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            let open = c
                .prepare_cached(
                    "SELECT id, group_id, user_id, status FROM join_requests
                     WHERE group_id = ?1 AND user_id = ?2 AND status = 0",
                )?
                .query_row([id(group), id(user)], join_request_row)
                .optional()?;
            if let Some(open) = open {
                return Ok(open);
            }
            let n = c
                .prepare_cached(
                    "INSERT OR IGNORE INTO join_requests (id, group_id, user_id, status)
                     VALUES (?1, ?2, ?3, 0)",
                )?
                .execute([id(request), id(group), id(user)])?;
            if n == 0 {
                return Err(StorageError::Conflict(Conflict::Request).into());
            }
            insert_events(c, &events)?;
            Ok(JoinRequest {
                id: request,
                group,
                user,
                status: RequestStatus::Open,
            })
        })
        .await
    }

    async fn join_request(&self, request: u64) -> Result<Option<JoinRequest>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, group_id, user_id, status FROM join_requests WHERE id = ?1",
            )?
            .query_row([id(request)], join_request_row)
            .optional()?)
        })
        .await
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, group_id, user_id, status FROM join_requests
                 WHERE group_id = ?1 AND status = 0 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows =
                stmt.query_map([id(group), after, limit_i64(page.limit)], join_request_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn answer_join_request(
        &self,
        request: u64,
        accept: bool,
        events: &[NewEvent],
    ) -> Result<()> {
        let status = if accept { 1 } else { 2 };
        let events = events.to_vec();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE join_requests SET status = ?2 WHERE id = ?1 AND status = 0",
                )?
                .execute([id(request), status])?;
            if n > 0 {
                return Ok(insert_events(c, &events)?);
            }
            let exists: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM join_requests WHERE id = ?1)")?
                .query_row([id(request)], |r| r.get(0))?;
            Err(if exists {
                StorageError::Conflict(Conflict::AlreadyAnswered)
            } else {
                StorageError::NotFound(Entity::Request)
            }
            .into())
        })
        .await
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()> {
        let events = events.to_vec();
        self.write_with(true, move |c, cache| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            cache.forget_group(id(group));
            if let Some(conv) = cache.conv(c, Conversation::Group(group))? {
                c.prepare_cached("DELETE FROM cursors WHERE conv = ?1")?
                    .execute([conv.id])?;
            }
            for sql in [
                "DELETE FROM members WHERE group_id = ?1",
                "DELETE FROM join_requests WHERE group_id = ?1",
                "DELETE FROM chat_groups WHERE id = ?1",
            ] {
                c.prepare_cached(sql)?.execute([id(group)])?;
            }
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()> {
        let remark = remark.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE friends SET remark = ?3 WHERE user_id = ?1 AND friend_id = ?2",
                )?
                .execute(params![id(user), id(friend), remark])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Friend).into());
            }
            Ok(())
        })
        .await
    }

    async fn friend_remarks(
        &self,
        user: UserId,
        friends: &[UserId],
    ) -> Result<Vec<(UserId, String)>> {
        let friends: Vec<i64> = friends.iter().map(|&f| id(f)).collect();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT remark FROM friends WHERE user_id = ?1 AND friend_id = ?2 AND remark <> ''",
            )?;
            let mut out = Vec::new();
            for f in friends {
                let remark: Option<String> =
                    stmt.query_row([id(user), f], |r| r.get(0)).optional()?;
                out.extend(remark.map(|r| (f as u64, r)));
            }
            Ok(out)
        })
        .await
    }
}
