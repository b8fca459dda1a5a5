//! [`GroupStore`] for [`MysqlStorage`]: groups and their members.
//!
//! Membership changes lock what their caps count before counting: the group's row (adding)
//! and the rows of the users joining (in id order), so that concurrent joins on any node are
//! serialized where they could overshoot a cap. New members' cursors and join positions are
//! the group's last `conv_seq`, read under the conversation's row lock: a message stored
//! concurrently is either before the join (not pending for them, not among its recipients)
//! or after it.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, Group, GroupCaps, GroupId, GroupStore, NewEvent, Page, Profile,
    StorageError, UserId,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction, Value};

use crate::error::{DbError, Result};
use crate::locks::{lock_group, lock_users};
use crate::outbox::insert_events;
use crate::rows::{
    exec_count, exec_rows, get, group_row, id, map_rows, profile_row, rows_in, to_i64, uid, vals,
};
use crate::{transaction, MysqlStorage};

/// `Conflict(TooManyGroups)` if one of `users` belongs to `max` groups already.
async fn check_groups_per_user(
    tx: &mut Transaction<'_>,
    users: &[i64],
    max: u64,
) -> Result<(), DbError> {
    if max == u64::MAX || users.is_empty() {
        return Ok(());
    }
    let counts = rows_in(
        tx,
        "SELECT user_id, COUNT(*) FROM members WHERE user_id IN ({list}) GROUP BY user_id",
        &[],
        users,
    )
    .await?;
    for r in &counts {
        if uid(r, 1)? >= max {
            return Err(StorageError::Conflict(Conflict::TooManyGroups).into());
        }
    }
    Ok(())
}

/// Locks the conversation's row (made if missing) and returns its last `conv_seq`.
pub(crate) async fn lock_conv(tx: &mut Transaction<'_>, conv: &str) -> Result<i64, DbError> {
    tx.exec_drop(
        "INSERT INTO convs (conv, last_seq) VALUES (?, 0)
         ON DUPLICATE KEY UPDATE last_seq = last_seq",
        vals![conv],
    )
    .await?;
    let last: Option<i64> = tx
        .exec_first(
            "SELECT last_seq FROM convs WHERE conv = ? FOR UPDATE",
            vals![conv],
        )
        .await?;
    Ok(last.unwrap_or(0))
}

/// Makes `users` (none of them a member yet) members of `group`, each with its join position
/// and cursor at `last`.
async fn join(
    tx: &mut Transaction<'_>,
    group: i64,
    conv: &str,
    users: &[i64],
    last: i64,
) -> Result<(), DbError> {
    exec_rows(
        tx,
        "INSERT INTO members (group_id, user_id, joined_seq) VALUES {list}",
        "(?, ?, ?)",
        users.iter().map(|&u| vals![group, u, last]).collect(),
    )
    .await?;
    exec_rows(
        tx,
        "INSERT INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES {list}
         ON DUPLICATE KEY UPDATE arrived_seq = VALUES(arrived_seq),
             read_seq = VALUES(read_seq)",
        "(?, ?, ?, ?)",
        users.iter().map(|&u| vals![u, conv, last, last]).collect(),
    )
    .await
}

const GROUP_SQL: &str = "SELECT g.id, g.name, g.owner,
        (SELECT COUNT(*) FROM members n WHERE n.group_id = g.id)
    FROM chat_groups g WHERE g.id = ?";

#[async_trait]
impl GroupStore for MysqlStorage {
    async fn create_group_within(
        &self,
        group: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group> {
        let mut all: Vec<i64> = members.iter().map(|&m| id(m)).collect();
        all.push(id(owner));
        all.sort_unstable();
        all.dedup();
        let conv = Conversation::Group(group).key();
        transaction!(self, |tx| {
            let taken: Option<i64> = tx
                .exec_first("SELECT id FROM chat_groups WHERE id = ?", vals![id(group)])
                .await?;
            if taken.is_some() {
                return Err(StorageError::Conflict(Conflict::Group).into());
            }
            lock_users(&mut tx, &all).await?;
            if all.len() as u64 > caps.max_members {
                return Err(StorageError::Conflict(Conflict::GroupFull).into());
            }
            check_groups_per_user(&mut tx, &all, caps.max_groups_per_user).await?;
            let n = exec_count(
                &mut tx,
                "INSERT INTO chat_groups (id, name, owner, avatar, notice) VALUES (?, ?, ?, '', '')
                 ON DUPLICATE KEY UPDATE id = id",
                vals![id(group), name, id(owner)],
            )
            .await?;
            if n != 1 {
                return Err(StorageError::Conflict(Conflict::Group).into());
            }
            let last = lock_conv(&mut tx, &conv).await?;
            join(&mut tx, id(group), &conv, &all, last).await?;
            insert_events(&mut tx, events).await?;
        })?;
        Ok(Group {
            id: group,
            name: name.to_owned(),
            owner,
            member_count: all.len() as u64,
        })
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        users.sort_unstable();
        users.dedup();
        let conv = Conversation::Group(group).key();
        transaction!(self, |tx| {
            lock_group(&mut tx, group).await?;
            lock_users(&mut tx, &users).await?;
            let current = rows_in(
                &mut tx,
                "SELECT user_id FROM members WHERE group_id = ? AND user_id IN ({list})",
                &[Value::from(id(group))],
                &users,
            )
            .await?;
            let current: Vec<i64> = current
                .iter()
                .map(|r| get::<i64>(r, 0))
                .collect::<Result<_, _>>()?;
            let new: Vec<i64> = users
                .iter()
                .copied()
                .filter(|u| !current.contains(u))
                .collect();
            let count: Option<i64> = tx
                .exec_first(
                    "SELECT COUNT(*) FROM members WHERE group_id = ?",
                    vals![id(group)],
                )
                .await?;
            if count.unwrap_or(0) as u64 + new.len() as u64 > caps.max_members {
                return Err(StorageError::Conflict(Conflict::GroupFull).into());
            }
            check_groups_per_user(&mut tx, &new, caps.max_groups_per_user).await?;
            let last = lock_conv(&mut tx, &conv).await?;
            join(&mut tx, id(group), &conv, &new, last).await?;
            insert_events(&mut tx, events).await?;
        })?;
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()> {
        let conv = Conversation::Group(group).key();
        transaction!(self, |tx| {
            let found: Option<i64> = tx
                .exec_first("SELECT id FROM chat_groups WHERE id = ?", vals![id(group)])
                .await?;
            if found.is_none() {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            let n = exec_count(
                &mut tx,
                "DELETE FROM members WHERE group_id = ? AND user_id = ?",
                vals![id(group), id(user)],
            )
            .await?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Member).into());
            }
            // Without its cursor nothing of the group is pending for it any more.
            tx.exec_drop(
                "DELETE FROM cursors WHERE user_id = ? AND conv = ?",
                vals![id(user), conv.as_str()],
            )
            .await?;
            insert_events(&mut tx, events).await?;
        })?;
        Ok(())
    }

    async fn group(&self, group: GroupId) -> Result<Option<Group>> {
        let row = self.row(GROUP_SQL, vals![id(group)]).await?;
        Ok(row.as_ref().map(group_row).transpose()?)
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .rows(
                "SELECT g.id, g.name, g.owner,
                        (SELECT COUNT(*) FROM members n WHERE n.group_id = g.id)
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.user_id = ? AND m.group_id > ? ORDER BY m.group_id LIMIT ?",
                vals![id(user), after, to_i64(page.limit)],
            )
            .await?;
        Ok(map_rows(found, group_row)?)
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .rows(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.group_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?",
                vals![id(group), after, to_i64(page.limit)],
            )
            .await?;
        Ok(map_rows(found, profile_row)?)
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        let row: Option<Row> = self
            .row(
                "SELECT 1 FROM members WHERE group_id = ? AND user_id = ?",
                vals![id(group), id(user)],
            )
            .await?;
        Ok(row.is_some())
    }
}
