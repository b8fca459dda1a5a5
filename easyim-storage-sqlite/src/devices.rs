//! [`DeviceStore`] for [`SqliteStorage`]: each user's push devices.

use async_trait::async_trait;
use easyim_core::{Device, DeviceStore, Entity, StorageError, UserId};
use rusqlite::{params, OptionalExtension};

use crate::error::Result;
use crate::rows::{id, user_exists};
use crate::SqliteStorage;

#[async_trait]
impl DeviceStore for SqliteStorage {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool> {
        let device = device.clone();
        self.write(move |c| {
            // One writer: the count and the insert cannot interleave with another call.
            if !user_exists(c, id(user))? {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            let owner: Option<i64> = c
                .prepare_cached("SELECT user_id FROM devices WHERE token = ?1")?
                .query_row([&device.token], |r| r.get(0))
                .optional()?;
            if owner != Some(id(user)) {
                let n: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM devices WHERE user_id = ?1")?
                    .query_row([id(user)], |r| r.get(0))?;
                if usize::try_from(n).unwrap_or(usize::MAX) >= max {
                    return Ok(false);
                }
            }
            c.prepare_cached(
                "INSERT INTO devices (token, user_id, platform, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (token) DO UPDATE SET user_id = excluded.user_id,
                     platform = excluded.platform, updated_at = excluded.updated_at",
            )?
            .execute(params![
                device.token,
                id(user),
                device.platform,
                device.updated_at
            ])?;
            Ok(true)
        })
        .await
    }

    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool> {
        let token = token.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM devices WHERE user_id = ?1 AND token = ?2")?
                .execute(params![id(user), token])?;
            Ok(n == 1)
        })
        .await
    }

    async fn devices(&self, user: UserId) -> Result<Vec<Device>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT platform, token, updated_at FROM devices
                 WHERE user_id = ?1 ORDER BY updated_at, token",
            )?;
            let rows = stmt.query_map([id(user)], |r| {
                Ok(Device {
                    platform: r.get(0)?,
                    token: r.get(1)?,
                    updated_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
