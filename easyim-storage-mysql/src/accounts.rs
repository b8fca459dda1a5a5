//! [`AccountStore`] for [`MysqlStorage`]: users, their secrets, the server's secret.

use async_trait::async_trait;
use easyim_core::{AccountStore, Conflict, EventKind, Profile, StorageError, User, UserId};
use mysql_async::prelude::Queryable;

use crate::error::{DbError, Result};
use crate::locks::lock_user;
use crate::rows::{
    exec_count, get, id, map_rows, profile_row, to_i64, user_row, vals, USER_COLUMNS,
};
use crate::{transaction, MysqlStorage};

#[async_trait]
impl AccountStore for MysqlStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let registered = self.events.wants(EventKind::UserRegistered).then(|| {
            let at = easyim_core::now_ms() as i64;
            easyim_core::user_registered(user.id, &user.account, &user.nickname, at)
        });
        let inserted = transaction!(self, |tx| {
            // A taken id or account changes nothing (told apart below).
            let n = exec_count(
                &mut tx,
                &format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
                     ON DUPLICATE KEY UPDATE id = id"
                ),
                vals![
                    id(user.id),
                    user.account.as_str(),
                    user.nickname.as_str(),
                    user.avatar.as_str(),
                    user.password_hash.as_str(),
                    user.secret.as_str()
                ],
            )
            .await?;
            if n == 1 {
                if let Some(event) = &registered {
                    crate::outbox::insert_events(&mut tx, std::slice::from_ref(event)).await?;
                }
            }
            n == 1
        })?;
        if inserted {
            return Ok(user);
        }
        let taken = self
            .row(
                "SELECT 1 FROM users WHERE account = ?",
                vals![user.account.as_str()],
            )
            .await?
            .is_some();
        Err(StorageError::Conflict(if taken {
            Conflict::Account
        } else {
            Conflict::User
        }))
    }

    async fn user(&self, user: UserId) -> Result<Option<User>> {
        let row = self
            .row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"),
                vals![id(user)],
            )
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let row = self
            .row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE account = ?"),
                vals![account],
            )
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn set_user_secret(&self, user: UserId, secret: &str) -> Result<()> {
        transaction!(self, |tx| {
            // Found, not changed: the same secret again still counts as done.
            lock_user(&mut tx, user).await?;
            tx.exec_drop(
                "UPDATE users SET secret = ? WHERE id = ?",
                vals![secret, id(user)],
            )
            .await?;
            tx.exec_drop(
                "DELETE FROM refresh_families WHERE user_id = ?",
                vals![id(user)],
            )
            .await?;
        })?;
        Ok(())
    }

    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        transaction!(self, |tx| {
            lock_user(&mut tx, user).await?;
            tx.exec_drop(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                vals![password_hash, id(user)],
            )
            .await?;
        })?;
        Ok(())
    }

    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        let (u, f, g) = (id(user), family as i64, to_i64(generation));
        let moved = transaction!(self, |tx| {
            let moved = exec_count(
                &mut tx,
                "UPDATE refresh_families SET generation = generation + 1
                 WHERE user_id = ? AND family = ? AND generation = ?",
                vals![u, f, g],
            )
            .await?;
            if moved == 1 {
                true
            } else if generation != 0 {
                false
            } else {
                // A new family: of two first uses at once, the primary key lets one in.
                exec_count(
                    &mut tx,
                    "INSERT INTO refresh_families (user_id, family, generation)
                     VALUES (?, ?, 1) ON DUPLICATE KEY UPDATE generation = generation",
                    vals![u, f],
                )
                .await?
                    == 1
            }
        })?;
        Ok(moved)
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // LOCATE on the binary collation is case-sensitive, and needs no escaping of % and _.
        let found = self
            .rows(
                "SELECT id, account, nickname, avatar FROM users
                 WHERE LOCATE(?, account) > 0 ORDER BY id LIMIT ?",
                vals![query, to_i64(limit)],
            )
            .await?;
        Ok(map_rows(found, profile_row)?)
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let value = transaction!(self, |tx| {
            tx.exec_drop(
                "INSERT INTO settings (name, value) VALUES ('server_secret', ?)
                 ON DUPLICATE KEY UPDATE value = value",
                vals![candidate],
            )
            .await?;
            let row: Option<mysql_async::Row> = tx
                .exec_first(
                    "SELECT value FROM settings WHERE name = 'server_secret'",
                    vals![],
                )
                .await?;
            match row {
                Some(r) => get::<String>(&r, 0)?,
                None => {
                    return Err(DbError::Storage(StorageError::unavailable_msg(
                        "MySQL lost the server secret",
                    )))
                }
            }
        })?;
        Ok(value)
    }

    async fn ping(&self) -> Result<()> {
        self.row("SELECT 1", vals![]).await?;
        Ok(())
    }
}
