//! [`AccountStore`] for [`SqliteStorage`]: users, their secrets, the server's secret.

use async_trait::async_trait;
use easyim_core::{AccountStore, Conflict, Entity, Profile, StorageError, User, UserId};
use rusqlite::{params, OptionalExtension};

use crate::error::Result;
use crate::rows::{id, limit_i64, profile_row, to_i64, user_exists, user_row, USER_COLUMNS};
use crate::SqliteStorage;

#[async_trait]
impl AccountStore for SqliteStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let registered = self
            .events
            .wants(easyim_core::EventKind::UserRegistered)
            .then(|| {
                let at = easyim_core::now_ms() as i64;
                easyim_core::user_registered(user.id, &user.account, &user.nickname, at)
            });
        self.write(move |c| {
            let taken: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE account = ?1)")?
                .query_row([&user.account], |r| r.get(0))?;
            if taken {
                return Err(StorageError::Conflict(Conflict::Account).into());
            }
            if user_exists(c, id(user.id))? {
                return Err(StorageError::Conflict(Conflict::User).into());
            }
            c.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                id(user.id),
                user.account,
                user.nickname,
                user.avatar,
                user.password_hash,
                user.secret
            ])?;
            if let Some(event) = &registered {
                crate::outbox::insert_event(c, event)?;
            }
            Ok(user)
        })
        .await
    }

    async fn user(&self, user: UserId) -> Result<Option<User>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                    .query_row([id(user)], user_row)
                    .optional()?,
            )
        })
        .await
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let account = account.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE account = ?1"
            ))?
            .query_row([account], user_row)
            .optional()?)
        })
        .await
    }

    async fn set_user_secret(&self, user: UserId, secret: &str) -> Result<()> {
        let secret = secret.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET secret = ?2 WHERE id = ?1")?
                .execute(params![id(user), secret])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            c.prepare_cached("DELETE FROM refresh_families WHERE user_id = ?1")?
                .execute(params![id(user)])?;
            Ok(())
        })
        .await
    }

    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        let hash = password_hash.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?
                .execute(params![id(user), hash])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            Ok(())
        })
        .await
    }

    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        self.write(move |c| {
            // One writer: the update, then (for a new family) the insert, cannot interleave
            // with another call.
            let (u, f, g) = (id(user), family as i64, to_i64(generation));
            let moved = c
                .prepare_cached(
                    "UPDATE refresh_families SET generation = generation + 1
                     WHERE user_id = ?1 AND family = ?2 AND generation = ?3",
                )?
                .execute(params![u, f, g])?;
            if moved == 1 {
                return Ok(true);
            }
            if generation != 0 {
                return Ok(false);
            }
            let added = c
                .prepare_cached(
                    "INSERT OR IGNORE INTO refresh_families (user_id, family, generation)
                     VALUES (?1, ?2, 1)",
                )?
                .execute(params![u, f])?;
            Ok(added == 1)
        })
        .await
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        let query = query.to_owned();
        self.read(move |c| {
            // instr() is case-sensitive, unlike LIKE, and needs no escaping of % and _.
            let mut stmt = c.prepare_cached(
                "SELECT id, account, nickname, avatar FROM users
                 WHERE instr(account, ?1) > 0 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![query, limit_i64(limit)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let candidate = candidate.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('server_secret', ?1)",
            )?
            .execute([&candidate])?;
            Ok(
                c.prepare_cached("SELECT value FROM settings WHERE key = 'server_secret'")?
                    .query_row([], |r| r.get(0))?,
            )
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM sqlite_schema")?
                .query_row([], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }
}
