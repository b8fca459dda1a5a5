//! [`GroupStore`] for [`SqliteStorage`]: groups and their members.

use async_trait::async_trait;
use easyim_core::{
    Conflict, Conversation, Entity, Group, GroupCaps, GroupId, GroupStore, NewEvent, Page, Profile,
    StorageError, UserId,
};
use rusqlite::{params, Connection};

use crate::cache::Cache;
use crate::error::{DbError, Result};
use crate::outbox::insert_events;
use crate::rows::{
    group_by_id, group_exists, group_row, id, is_member, limit_i64, profile_row, to_i64,
};
use crate::SqliteStorage;

/// Checks `caps` for `users` (sorted, no duplicates) joining `group`: the ones not yet members
/// must fit in the group, and each must be in fewer than `max_groups_per_user` groups. Runs on
/// the writer, in the job that then adds them, so no other write comes in between.
fn check_caps(c: &Connection, group: i64, users: &[i64], caps: GroupCaps) -> Result<(), DbError> {
    let mut new = Vec::with_capacity(users.len());
    for &user in users {
        if !is_member(c, group, user)? {
            new.push(user);
        }
    }
    if caps.max_members != u64::MAX {
        let current: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM members WHERE group_id = ?1")?
            .query_row([group], |r| r.get(0))?;
        if current as u64 + new.len() as u64 > caps.max_members {
            return Err(StorageError::Conflict(Conflict::GroupFull).into());
        }
    }
    if caps.max_groups_per_user != u64::MAX {
        let mut groups_of = c.prepare_cached("SELECT COUNT(*) FROM members WHERE user_id = ?1")?;
        for &user in &new {
            let n: i64 = groups_of.query_row([user], |r| r.get(0))?;
            if n as u64 >= caps.max_groups_per_user {
                return Err(StorageError::Conflict(Conflict::TooManyGroups).into());
            }
        }
    }
    Ok(())
}

/// Makes `users` members of `group` (current members stay as they are), each new member's
/// cursor and join position at the group's last message so that only later messages are
/// pending.
fn join_group(
    c: &Connection,
    cache: &mut Cache,
    group: i64,
    users: &[i64],
) -> rusqlite::Result<()> {
    cache.forget_group(group);
    let conv = cache.conv_or_create(c, Conversation::Group(group as u64))?;
    let mut add = c.prepare_cached(
        "INSERT OR IGNORE INTO members (group_id, user_id, joined_seq) VALUES (?1, ?2, ?3)",
    )?;
    let mut cursor = c.prepare_cached(
        "INSERT OR IGNORE INTO cursors (user_id, conv, arrived_seq, read_seq) VALUES (?1, ?2, ?3, ?3)",
    )?;
    for &user in users {
        if add.execute([group, user, conv.last_seq])? > 0 {
            cursor.execute([user, conv.id, conv.last_seq])?;
        }
    }
    Ok(())
}

#[async_trait]
impl GroupStore for SqliteStorage {
    async fn create_group_within(
        &self,
        group: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group> {
        let name = name.to_owned();
        let events = events.to_vec();
        let mut all = vec![id(owner)];
        all.extend(members.iter().map(|&m| id(m)));
        all.sort_unstable();
        all.dedup();
        self.write_with(true, move |c, cache| {
            if group_exists(c, id(group))? {
                return Err(StorageError::Conflict(Conflict::Group).into());
            }
            for &user in &all {
                if !cache.user_exists(c, user)? {
                    return Err(StorageError::NotFound(Entity::User).into());
                }
            }
            check_caps(c, id(group), &all, caps)?;
            c.prepare_cached("INSERT INTO chat_groups (id, name, owner) VALUES (?1, ?2, ?3)")?
                .execute(params![id(group), name, id(owner)])?;
            join_group(c, cache, id(group), &all)?;
            insert_events(c, &events)?;
            Ok(Group {
                id: group,
                name,
                owner,
                member_count: all.len() as u64,
            })
        })
        .await
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()> {
        let events = events.to_vec();
        let mut users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        users.sort_unstable();
        users.dedup();
        self.write_with(true, move |c, cache| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            for &user in &users {
                if !cache.user_exists(c, user)? {
                    return Err(StorageError::NotFound(Entity::User).into());
                }
            }
            check_caps(c, id(group), &users, caps)?;
            join_group(c, cache, id(group), &users)?;
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()> {
        let events = events.to_vec();
        self.write_with(true, move |c, cache| {
            if !group_exists(c, id(group))? {
                return Err(StorageError::NotFound(Entity::Group).into());
            }
            cache.forget_group(id(group));
            let n = c
                .prepare_cached("DELETE FROM members WHERE group_id = ?1 AND user_id = ?2")?
                .execute([id(group), id(user)])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Member).into());
            }
            // Without its cursor nothing of the group is pending for it any more.
            if let Some(conv) = cache.conv(c, Conversation::Group(group))? {
                c.prepare_cached("DELETE FROM cursors WHERE user_id = ?1 AND conv = ?2")?
                    .execute([id(user), conv.id])?;
            }
            Ok(insert_events(c, &events)?)
        })
        .await
    }

    async fn group(&self, group: GroupId) -> Result<Option<Group>> {
        self.read(move |c| Ok(group_by_id(c, id(group))?)).await
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT g.id, g.name, g.owner,
                        (SELECT COUNT(*) FROM members n WHERE n.group_id = g.id)
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.user_id = ?1 AND m.group_id > ?2 ORDER BY m.group_id LIMIT ?3",
            )?;
            let rows = stmt.query_map([id(user), after, limit_i64(page.limit)], group_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.group_id = ?1 AND m.user_id > ?2 ORDER BY m.user_id LIMIT ?3",
            )?;
            let rows = stmt.query_map([id(group), after, limit_i64(page.limit)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        self.read(move |c| Ok(is_member(c, id(group), id(user))?))
            .await
    }
}
