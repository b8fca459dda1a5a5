//! [`AccountStore`] for [`PgStorage`]: users, their secrets, the server's secret.

use async_trait::async_trait;
use easyim_core::{AccountStore, Conflict, Entity, Profile, StorageError, User, UserId};

use crate::error::Result;
use crate::rows::{id, profile_row, rows, to_i64, user_row, USER_COLUMNS};
use crate::PgStorage;

#[async_trait]
impl AccountStore for PgStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &id(user.id),
            &user.account,
            &user.nickname,
            &user.avatar,
            &user.password_hash,
            &user.secret,
        ];
        let n = if self.events.wants(easyim_core::EventKind::UserRegistered) {
            // The user and its `user.registered` event in one statement.
            let at = easyim_core::now_ms() as i64;
            let event = easyim_core::user_registered(user.id, &user.account, &user.nickname, at);
            let mut all = params.to_vec();
            let more: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&event.key, &event.data, &event.created_ms];
            all.extend(more);
            let row = self
                .query_one(
                    &format!(
                        "WITH u AS (
                             INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT DO NOTHING RETURNING id
                         ), e AS (
                             INSERT INTO outbox (kind, key, data, created_ms)
                             SELECT 'user.registered', $7, $8, $9 FROM u
                         )
                         SELECT count(*) FROM u"
                    ),
                    &all,
                )
                .await?;
            row.get::<_, i64>(0) as u64
        } else {
            self.execute(
                &format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING"
                ),
                &params,
            )
            .await?
        };
        if n == 1 {
            return Ok(user);
        }
        // Refused: say which of the two unique keys was taken (a second round trip, on the
        // refusal path only).
        let taken: bool = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE account = $1)",
                &[&user.account],
            )
            .await?
            .get(0);
        Err(StorageError::Conflict(if taken {
            Conflict::Account
        } else {
            Conflict::User
        }))
    }

    async fn user(&self, user: UserId) -> Result<Option<User>> {
        let row = self
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&id(user)],
            )
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let row = self
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE account = $1"),
                &[&account],
            )
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn set_user_secret(&self, user: UserId, secret: &str) -> Result<()> {
        // One statement: the families go with the old secret, atomically.
        let n = self
            .execute(
                "WITH forgotten AS (DELETE FROM refresh_families WHERE user_id = $1)
                 UPDATE users SET secret = $2 WHERE id = $1",
                &[&id(user), &secret],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NotFound(Entity::User));
        }
        Ok(())
    }

    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        let n = self
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id(user), &password_hash],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NotFound(Entity::User));
        }
        Ok(())
    }

    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        // The UPDATE locks the family's row; a new family is inserted only at generation 0,
        // and of two concurrent inserts ON CONFLICT lets one win.
        let row = self
            .query_one(
                "WITH moved AS (
                     UPDATE refresh_families SET generation = generation + 1
                     WHERE user_id = $1 AND family = $2 AND generation = $3
                     RETURNING 1),
                 added AS (
                     INSERT INTO refresh_families (user_id, family, generation)
                     SELECT $1, $2, 1 WHERE $3 = 0 AND NOT EXISTS (SELECT 1 FROM moved)
                     ON CONFLICT DO NOTHING
                     RETURNING 1)
                 SELECT EXISTS (SELECT 1 FROM moved) OR EXISTS (SELECT 1 FROM added)",
                &[&id(user), &(family as i64), &to_i64(generation)],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // strpos() is case-sensitive, unlike ILIKE, and needs no escaping of % and _.
        let found = self
            .query(
                "SELECT id, account, nickname, avatar FROM users
                 WHERE strpos(account, $1) > 0 ORDER BY id LIMIT $2",
                &[&query, &to_i64(limit)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        // DO UPDATE (to the same value) returns the stored row, also when another node stored
        // it a moment ago; DO NOTHING would return nothing then.
        let row = self
            .query_one(
                "INSERT INTO settings (key, value) VALUES ('server_secret', $1)
                 ON CONFLICT (key) DO UPDATE SET value = settings.value
                 RETURNING value",
                &[&candidate],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn ping(&self) -> Result<()> {
        self.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}
