//! Row locks taken at the start of a transaction: what a change counts or checks is locked
//! first, so that concurrent changes on any node are serialized where they could conflict.
//! Each answers `NotFound` if the row does not exist.

use easyim_core::{Entity, GroupId, StorageError, UserId};
use mysql_async::prelude::Queryable;
use mysql_async::Transaction;

use crate::error::DbError;
use crate::rows::{id, rows_in, vals};

/// Locks the row of `user`.
pub(crate) async fn lock_user(tx: &mut Transaction<'_>, user: UserId) -> Result<(), DbError> {
    lock_one(
        tx,
        "SELECT id FROM users WHERE id = ? FOR UPDATE",
        id(user),
        Entity::User,
    )
    .await
}

/// Locks the row of `group`.
pub(crate) async fn lock_group(tx: &mut Transaction<'_>, group: GroupId) -> Result<(), DbError> {
    lock_one(
        tx,
        "SELECT id FROM chat_groups WHERE id = ? FOR UPDATE",
        id(group),
        Entity::Group,
    )
    .await
}

/// Locks the rows of `users` (sorted, no duplicates) in id order.
pub(crate) async fn lock_users(tx: &mut Transaction<'_>, users: &[i64]) -> Result<(), DbError> {
    let found = rows_in(
        tx,
        "SELECT id FROM users WHERE id IN ({list}) ORDER BY id FOR UPDATE",
        &[],
        users,
    )
    .await?;
    if found.len() != users.len() {
        return Err(StorageError::NotFound(Entity::User).into());
    }
    Ok(())
}

async fn lock_one(
    tx: &mut Transaction<'_>,
    sql: &str,
    key: i64,
    entity: Entity,
) -> Result<(), DbError> {
    let found: Option<i64> = tx.exec_first(sql, vals![key]).await?;
    if found.is_none() {
        return Err(StorageError::NotFound(entity).into());
    }
    Ok(())
}
