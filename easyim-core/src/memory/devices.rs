//! [`DeviceStore`] for [`MemoryStorage`].

use async_trait::async_trait;

use super::MemoryStorage;
use crate::error::{Entity, Result, StorageError};
use crate::storage::DeviceStore;
use crate::types::{Device, UserId};

#[async_trait]
impl DeviceStore for MemoryStorage {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool> {
        let mut s = self.lock();
        if !s.users.contains_key(&user) {
            return Err(StorageError::NotFound(Entity::User));
        }
        let own = s
            .devices
            .get(&device.token)
            .is_some_and(|(owner, _)| *owner == user);
        if !own
            && s.devices
                .values()
                .filter(|(owner, _)| *owner == user)
                .count()
                >= max
        {
            return Ok(false);
        }
        s.devices
            .insert(device.token.clone(), (user, device.clone()));
        Ok(true)
    }

    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool> {
        let mut s = self.lock();
        if s.devices
            .get(token)
            .is_some_and(|(owner, _)| *owner == user)
        {
            s.devices.remove(token);
            return Ok(true);
        }
        Ok(false)
    }

    async fn devices(&self, user: UserId) -> Result<Vec<Device>> {
        let s = self.lock();
        let mut out: Vec<Device> = s
            .devices
            .values()
            .filter(|(owner, _)| *owner == user)
            .map(|(_, d)| d.clone())
            .collect();
        out.sort_by(|a, b| (a.updated_at, &a.token).cmp(&(b.updated_at, &b.token)));
        Ok(out)
    }
}
