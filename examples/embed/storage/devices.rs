//! The `DeviceStore` part of [`TableStorage`]: the `devices` table.

use async_trait::async_trait;
use easyim_core::{Device, DeviceStore, Entity, Result, StorageError, UserId};

use super::TableStorage;

#[async_trait]
impl DeviceStore for TableStorage {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool> {
        let mut db = self.db();
        if !db.users.contains_key(&user) {
            return Err(StorageError::NotFound(Entity::User));
        }
        let mine = db
            .devices
            .get(&device.token)
            .is_some_and(|(owner, _)| *owner == user);
        // `SELECT COUNT(*) FROM devices WHERE user = ?` (a scan: no index by user here).
        let count = db.devices.values().filter(|(u, _)| *u == user).count();
        if !mine && count >= max {
            return Ok(false);
        }
        db.devices
            .insert(device.token.clone(), (user, device.clone()));
        Ok(true)
    }

    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool> {
        let mut db = self.db();
        if db
            .devices
            .get(token)
            .is_some_and(|(owner, _)| *owner == user)
        {
            db.devices.remove(token);
            return Ok(true);
        }
        Ok(false)
    }

    async fn devices(&self, user: UserId) -> Result<Vec<Device>> {
        let db = self.db();
        let mut out: Vec<Device> = db
            .devices
            .values()
            .filter(|(u, _)| *u == user)
            .map(|(_, d)| d.clone())
            .collect();
        out.sort_by(|a, b| (a.updated_at, &a.token).cmp(&(b.updated_at, &b.token)));
        Ok(out)
    }
}
