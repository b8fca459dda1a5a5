//! [`DeviceStore`] for [`PgStorage`]: each user's push devices.

use async_trait::async_trait;
use easyim_core::{Device, DeviceStore, UserId};

use crate::error::Result;
use crate::rows::id;
use crate::PgStorage;

#[async_trait]
impl DeviceStore for PgStorage {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let row = self
            .query_one(
                "SELECT easyim_add_device($1, $2, $3, $4, $5)",
                &[
                    &id(user),
                    &device.platform,
                    &device.token,
                    &device.updated_at,
                    &max,
                ],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool> {
        let n = self
            .execute(
                "DELETE FROM devices WHERE user_id = $1 AND token = $2",
                &[&id(user), &token],
            )
            .await?;
        Ok(n == 1)
    }

    async fn devices(&self, user: UserId) -> Result<Vec<Device>> {
        let rows = self
            .query(
                "SELECT platform, token, updated_at FROM devices
                 WHERE user_id = $1 ORDER BY updated_at, token",
                &[&id(user)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Device {
                platform: r.get(0),
                token: r.get(1),
                updated_at: r.get(2),
            })
            .collect())
    }
}
