//! [`DeviceStore`]: each user's push devices.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{Device, UserId};

/// Where the push devices of each user live. Contracts as for every storage trait (see the
/// module docs).
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Registers `device` for `user` in one atomic step and answers true. A token is one
    /// device: registered again by the same user, its platform and `updated_at` are replaced;
    /// registered by another user (the device changed hands), it moves to `user`. Answers
    /// false, changing nothing, when `user` has `max` devices already and the token is not one
    /// of them. `NotFound(User)` if there is no such user.
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> Result<bool>;

    /// Removes `user`'s device with `token`; answers whether there was one.
    async fn remove_device(&self, user: UserId, token: &str) -> Result<bool>;

    /// `user`'s devices, oldest `updated_at` first (ties by token); none for an unknown user.
    async fn devices(&self, user: UserId) -> Result<Vec<Device>>;
}
