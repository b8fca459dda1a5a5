//! [`ModerationStore`] for [`PgStorage`]: group settings, roles and mutes; blocks.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, GroupId, GroupSettings, GroupUpdate, HistoryVisible,
    InvitePolicy, JoinPolicy, JoinRequest, Member, MemberState, ModerationStore, NewEvent, Page,
    Profile, Relation, RequestStatus, Role, StorageError, UserId,
};

use crate::error::{DbError, Result};
use crate::rows::{id, profile_row, rows, to_i64, uid};
use crate::PgStorage;

/// The role of `user` whose `members.role` is `code` in a group owned by `owner`.
fn role_of(user: i64, owner: i64, code: i32) -> Role {
    if user == owner {
        Role::Owner
    } else {
        Role::from_code(code.into())
    }
}

fn join_request_row(r: &tokio_postgres::Row) -> JoinRequest {
    JoinRequest {
        id: uid(r, 0),
        group: uid(r, 1),
        user: uid(r, 2),
        status: RequestStatus::from_i64(r.get::<_, i32>(3).into()),
    }
}

fn code(n: i64) -> i32 {
    n as i32
}

impl PgStorage {
    /// The answer for an update of one member's row that changed nothing: `NotFound(Group)`
    /// if there is no such group, else `NotFound(Member)`.
    async fn missing_member(&self, group: GroupId) -> Result<(), DbError> {
        let exists = self
            .query_opt("SELECT 1 FROM chat_groups WHERE id = $1", &[&id(group)])
            .await?
            .is_some();
        Err(StorageError::NotFound(if exists {
            Entity::Member
        } else {
            Entity::Group
        })
        .into())
    }
}

#[async_trait]
impl ModerationStore for PgStorage {
    async fn group_settings(&self, group: GroupId) -> Result<Option<GroupSettings>> {
        let row = self
            .query_opt(
                "SELECT avatar, notice, join_policy, invite_policy, history_visible, mute_all
                 FROM chat_groups WHERE id = $1",
                &[&id(group)],
            )
            .await?;
        Ok(row.map(|r| GroupSettings {
            avatar: r.get(0),
            notice: r.get(1),
            join_policy: JoinPolicy::from_code(r.get::<_, i32>(2).into()),
            invite_policy: InvitePolicy::from_code(r.get::<_, i32>(3).into()),
            history_visible: HistoryVisible::from_code(r.get::<_, i32>(4).into()),
            mute_all: r.get(5),
        }))
    }

    async fn update_group(
        &self,
        group: GroupId,
        u: &GroupUpdate,
        events: &[NewEvent],
    ) -> Result<()> {
        let n = self
            .query_with_events(
                "UPDATE chat_groups SET
                    name = coalesce($2, name),
                    avatar = coalesce($3, avatar),
                    notice = coalesce($4, notice),
                    join_policy = coalesce($5, join_policy),
                    invite_policy = coalesce($6, invite_policy),
                    history_visible = coalesce($7, history_visible),
                    mute_all = coalesce($8, mute_all)
                 WHERE id = $1 RETURNING 1",
                &[
                    &id(group),
                    &u.name,
                    &u.avatar,
                    &u.notice,
                    &u.join_policy.map(|p| code(p.code())),
                    &u.invite_policy.map(|p| code(p.code())),
                    &u.history_visible.map(|p| code(p.code())),
                    &u.mute_all,
                ],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n == 0 {
            return Err(StorageError::NotFound(Entity::Group));
        }
        Ok(())
    }

    async fn member_state(&self, group: GroupId, user: UserId) -> Result<Option<MemberState>> {
        let row = self
            .query_opt(
                "SELECT g.owner, m.role, m.muted_until, m.joined_seq, g.mute_all, g.history_visible
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = $1 AND m.user_id = $2",
                &[&id(group), &id(user)],
            )
            .await?;
        Ok(row.map(|r| MemberState {
            role: role_of(id(user), r.get(0), r.get(1)),
            muted_until: r.get(2),
            joined_seq: r.get::<_, i64>(3) as u64,
            mute_all: r.get(4),
            history_visible: HistoryVisible::from_code(r.get::<_, i32>(5).into()),
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
        let n = self
            .query_with_events(
                "UPDATE members SET role = $3 WHERE group_id = $1 AND user_id = $2
                 AND user_id <> (SELECT owner FROM chat_groups WHERE id = $1) RETURNING 1",
                &[&id(group), &id(user), &code(role.code())],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n == 0 {
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
        let n = self
            .query_with_events(
                "UPDATE members SET muted_until = $3 WHERE group_id = $1 AND user_id = $2
                 RETURNING 1",
                &[&id(group), &id(user), &until.max(0)],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n == 0 {
            self.missing_member(group).await?;
        }
        Ok(())
    }

    async fn transfer_owner(&self, group: GroupId, to: UserId, events: &[NewEvent]) -> Result<()> {
        // One statement: the new owner's admin role goes (the owner's role is the group's),
        // and the group changes hands only if `to` is a member.
        let n = self
            .query_with_events(
                "WITH m AS (UPDATE members SET role = 0 WHERE group_id = $1 AND user_id = $2
                            RETURNING user_id)
                 UPDATE chat_groups SET owner = $2 WHERE id = $1 AND EXISTS (SELECT 1 FROM m)
                 RETURNING 1",
                &[&id(group), &id(to)],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n == 0 {
            self.missing_member(group).await?;
        }
        Ok(())
    }

    async fn member_roles(&self, group: GroupId, users: &[UserId]) -> Result<Vec<Member>> {
        let ids: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        let rows = self
            .query(
                "SELECT m.user_id, g.owner, m.role, m.muted_until
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.group_id = $1 AND m.user_id = ANY($2)",
                &[&id(group), &ids],
            )
            .await?;
        let mut found: Vec<Member> = rows
            .iter()
            .map(|r| Member {
                user: uid(r, 0),
                role: role_of(r.get(0), r.get(1), r.get(2)),
                muted_until: r.get(3),
            })
            .collect();
        found.sort_by_key(|m| users.iter().position(|&u| u == m.user));
        Ok(found)
    }

    async fn block_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        // One statement: the row goes in only if the blocked user exists.
        let n = self
            .execute(
                "INSERT INTO blocks (user_id, blocked_id)
                 SELECT $1, id FROM users WHERE id = $2
                 ON CONFLICT DO NOTHING",
                &[&id(user), &id(blocked)],
            )
            .await?;
        if n == 0
            && self
                .query_opt("SELECT 1 FROM users WHERE id = $1", &[&id(blocked)])
                .await?
                .is_none()
        {
            return Err(StorageError::NotFound(Entity::User));
        }
        Ok(())
    }

    async fn unblock_user(&self, user: UserId, blocked: UserId) -> Result<()> {
        self.execute(
            "DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2",
            &[&id(user), &id(blocked)],
        )
        .await?;
        Ok(())
    }

    async fn blocked_users(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.user_id = $1 AND b.blocked_id > $2 ORDER BY b.blocked_id LIMIT $3",
                &[&id(user), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn relation(&self, from: UserId, to: UserId) -> Result<Relation> {
        let r = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = $2 AND blocked_id = $1),
                        EXISTS (SELECT 1 FROM friends WHERE user_id = $1 AND friend_id = $2)",
                &[&id(from), &id(to)],
            )
            .await?;
        Ok(Relation {
            blocked: r.get(0),
            friends: r.get(1),
        })
    }

    async fn group_admins(&self, group: GroupId) -> Result<Vec<UserId>> {
        let found = self
            .query(
                "SELECT owner FROM chat_groups WHERE id = $1
                 UNION ALL
                 SELECT user_id FROM members WHERE group_id = $1 AND role = 1",
                &[&id(group)],
            )
            .await?;
        Ok(rows(found, |r| uid(r, 0)))
    }

    async fn create_join_request(
        &self,
        request: u64,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> Result<JoinRequest> {
        // One statement: insert unless an open one exists (the partial unique index settles a
        // race between nodes), then read the open one, whichever it is. The events go with a
        // request made by this call (its id is `request`), not with an open one returned.
        let row = self
            .query_with_events(
                "WITH ins AS (
                     INSERT INTO join_requests (id, group_id, user_id, status)
                     SELECT $1, $2, $3, 0 WHERE EXISTS (SELECT 1 FROM chat_groups WHERE id = $2)
                     ON CONFLICT DO NOTHING
                     RETURNING id, group_id, user_id, status
                 )
                 SELECT id, group_id, user_id, status FROM ins
                 UNION ALL
                 SELECT id, group_id, user_id, status FROM join_requests
                 WHERE group_id = $2 AND user_id = $3 AND status = 0
                 LIMIT 1",
                &[&id(request), &id(group), &id(user)],
                events,
                |rows| {
                    rows.first()
                        .is_some_and(|r| r.get::<_, i64>(0) == id(request))
                },
            )
            .await?
            .into_iter()
            .next();
        if let Some(r) = row {
            return Ok(join_request_row(&r));
        }
        // Nothing inserted and nothing seen: another node's open request may have committed
        // after this statement's snapshot; read it in a fresh one.
        let open = self
            .query_opt(
                "SELECT id, group_id, user_id, status FROM join_requests
                 WHERE group_id = $1 AND user_id = $2 AND status = 0",
                &[&id(group), &id(user)],
            )
            .await?;
        if let Some(r) = open {
            return Ok(join_request_row(&r));
        }
        let group_exists = self
            .query_opt("SELECT 1 FROM chat_groups WHERE id = $1", &[&id(group)])
            .await?
            .is_some();
        Err(if group_exists {
            StorageError::Conflict(Conflict::Request)
        } else {
            StorageError::NotFound(Entity::Group)
        })
    }

    async fn join_request(&self, request: u64) -> Result<Option<JoinRequest>> {
        let row = self
            .query_opt(
                "SELECT id, group_id, user_id, status FROM join_requests WHERE id = $1",
                &[&id(request)],
            )
            .await?;
        Ok(row.as_ref().map(join_request_row))
    }

    async fn join_requests(&self, group: GroupId, page: Page) -> Result<Vec<JoinRequest>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .query(
                "SELECT id, group_id, user_id, status FROM join_requests
                 WHERE group_id = $1 AND status = 0 AND id > $2 ORDER BY id LIMIT $3",
                &[&id(group), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, join_request_row))
    }

    async fn answer_join_request(
        &self,
        request: u64,
        accept: bool,
        events: &[NewEvent],
    ) -> Result<()> {
        let status: i32 = if accept { 1 } else { 2 };
        let n = self
            .query_with_events(
                "UPDATE join_requests SET status = $2 WHERE id = $1 AND status = 0 RETURNING 1",
                &[&id(request), &status],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n > 0 {
            return Ok(());
        }
        let exists = self
            .query_opt("SELECT 1 FROM join_requests WHERE id = $1", &[&id(request)])
            .await?
            .is_some();
        Err(if exists {
            StorageError::Conflict(Conflict::AlreadyAnswered)
        } else {
            StorageError::NotFound(Entity::Request)
        })
    }

    async fn dismiss_group(&self, group: GroupId, events: &[NewEvent]) -> Result<()> {
        // One statement, so one transaction; the foreign keys are checked at its end, when
        // the members are gone too.
        let conv = Conversation::Group(group).key();
        let n = self
            .query_with_events(
                "WITH m AS (DELETE FROM members WHERE group_id = $1),
                      c AS (DELETE FROM cursors WHERE conv = $2),
                      j AS (DELETE FROM join_requests WHERE group_id = $1)
                 DELETE FROM chat_groups WHERE id = $1 RETURNING 1",
                &[&id(group), &conv],
                events,
                |rows| !rows.is_empty(),
            )
            .await?
            .len();
        if n == 0 {
            return Err(StorageError::NotFound(Entity::Group));
        }
        Ok(())
    }

    async fn set_friend_remark(&self, user: UserId, friend: UserId, remark: &str) -> Result<()> {
        let n = self
            .execute(
                "UPDATE friends SET remark = $3 WHERE user_id = $1 AND friend_id = $2",
                &[&id(user), &id(friend), &remark],
            )
            .await?;
        if n == 0 {
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
        let found = self
            .query(
                "SELECT friend_id, remark FROM friends
                 WHERE user_id = $1 AND friend_id = ANY($2) AND remark <> ''",
                &[&id(user), &ids],
            )
            .await?;
        let mut out = rows(found, |r| (uid(r, 0), r.get::<_, String>(1)));
        out.sort_by_key(|(f, _)| friends.iter().position(|x| x == f));
        Ok(out)
    }
}
