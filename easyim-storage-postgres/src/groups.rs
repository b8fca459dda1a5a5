//! [`GroupStore`] for [`PgStorage`]: groups and their members.

use async_trait::async_trait;
use easyim_core::{
    Conversation, Group, GroupCaps, GroupId, GroupStore, NewEvent, Page, Profile, UserId,
};

use crate::error::{DbError, Result};
use crate::rows::{group_row, id, profile_row, rows, to_i64};
use crate::PgStorage;

#[async_trait]
impl GroupStore for PgStorage {
    async fn create_group_within(
        &self,
        group: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group> {
        let members: Vec<i64> = members.iter().map(|&m| id(m)).collect();
        let conv = Conversation::Group(group).key();
        let (max_members, max_groups) =
            (to_i64(caps.max_members), to_i64(caps.max_groups_per_user));
        // The function raises unless it created the group: a row is a group made.
        let rows = self
            .query_with_events(
                "SELECT easyim_create_group($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id(group),
                    &conv,
                    &name,
                    &id(owner),
                    &members,
                    &max_members,
                    &max_groups,
                ],
                events,
                |rows| !rows.is_empty(),
            )
            .await?;
        let row = rows.first().ok_or_else(|| {
            DbError::Storage(easyim_core::StorageError::unavailable_msg(
                "PostgreSQL returned no row where one was expected",
            ))
        })?;
        Ok(Group {
            id: group,
            name: name.to_owned(),
            owner,
            member_count: row.get::<_, i64>(0) as u64,
        })
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()> {
        let users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        let conv = Conversation::Group(group).key();
        let (max_members, max_groups) =
            (to_i64(caps.max_members), to_i64(caps.max_groups_per_user));
        self.query_with_events(
            "SELECT easyim_add_members($1, $2, $3, $4, $5)",
            &[&id(group), &conv, &users, &max_members, &max_groups],
            events,
            |rows| !rows.is_empty(),
        )
        .await?;
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()> {
        let conv = Conversation::Group(group).key();
        self.query_with_events(
            "SELECT easyim_remove_member($1, $2, $3)",
            &[&id(group), &conv, &id(user)],
            events,
            |rows| !rows.is_empty(),
        )
        .await?;
        Ok(())
    }

    async fn group(&self, group: GroupId) -> Result<Option<Group>> {
        let row = self
            .query_opt(
                "SELECT g.id, g.name, g.owner,
                        (SELECT count(*) FROM members n WHERE n.group_id = g.id)
                 FROM chat_groups g WHERE g.id = $1",
                &[&id(group)],
            )
            .await?;
        Ok(row.as_ref().map(group_row))
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .query(
                "SELECT g.id, g.name, g.owner,
                        (SELECT count(*) FROM members n WHERE n.group_id = g.id)
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.user_id = $1 AND m.group_id > $2 ORDER BY m.group_id LIMIT $3",
                &[&id(user), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, group_row))
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.group_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3",
                &[&id(group), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        let row = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM members WHERE group_id = $1 AND user_id = $2)",
                &[&id(group), &id(user)],
            )
            .await?;
        Ok(row.get(0))
    }
}
