//! [`DeviceStore`] for [`MysqlStorage`]: each user's push devices. A token is keyed by its
//! SHA-256 (`token_key`), as a token may be longer than an index key.

use async_trait::async_trait;
use easyim_core::{Device, DeviceStore, UserId};
use mysql_async::prelude::Queryable;

use crate::error::Result;
use crate::locks::lock_user;
use crate::rows::{get, id, map_rows, vals};
use crate::{transaction, MysqlStorage};

#[async_trait]
impl DeviceStore for MysqlStorage {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool> {
        let token = device.token.as_str();
        let added = transaction!(self, |tx| {
            // The user's row lock serializes its registrations: concurrent calls never pass
            // the cap.
            lock_user(&mut tx, user).await?;
            let owner: Option<i64> = tx
                .exec_first(
                    "SELECT user_id FROM devices WHERE token_key = UNHEX(SHA2(?, 256))",
                    vals![token],
                )
                .await?;
            let count: Option<i64> = tx
                .exec_first(
                    "SELECT COUNT(*) FROM devices WHERE user_id = ?",
                    vals![id(user)],
                )
                .await?;
            if owner != Some(id(user)) && count.unwrap_or(0) as u64 >= max as u64 {
                false
            } else {
                tx.exec_drop(
                    "INSERT INTO devices (token_key, token, user_id, platform, updated_at)
                     VALUES (UNHEX(SHA2(?, 256)), ?, ?, ?, ?)
                     ON DUPLICATE KEY UPDATE user_id = VALUES(user_id),
                         platform = VALUES(platform), updated_at = VALUES(updated_at)",
                    vals![
                        token,
                        token,
                        id(user),
                        device.platform.as_str(),
                        device.updated_at
                    ],
                )
                .await?;
                true
            }
        })?;
        Ok(added)
    }

    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool> {
        let n = self
            .execute(
                "DELETE FROM devices WHERE token_key = UNHEX(SHA2(?, 256)) AND user_id = ?",
                vals![token, id(user)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn devices(&self, user: UserId) -> Result<Vec<Device>> {
        let rows = self
            .rows(
                "SELECT platform, token, updated_at FROM devices
                 WHERE user_id = ? ORDER BY updated_at, token",
                vals![id(user)],
            )
            .await?;
        Ok(map_rows(rows, |r| {
            Ok(Device {
                platform: get(r, 0)?,
                token: get(r, 1)?,
                updated_at: get(r, 2)?,
            })
        })?)
    }
}
