//! [`Devices`]: the push devices each user registers, for the backend that sends the pushes.

use std::sync::Arc;

use tracing::instrument;

use crate::error::{Entity, ImError};
use crate::ids::now_ms;
use crate::storage::DeviceStore;
use crate::types::{Device, UserId};

/// The most devices one user may register; one more is `Forbidden` until one is removed.
pub const MAX_DEVICES: usize = 20;
/// Longest push token, in bytes (a web push subscription is the longest kind, well under it).
pub const MAX_DEVICE_TOKEN: usize = 4096;
/// Longest platform name, in bytes.
pub const MAX_PLATFORM: usize = 32;

/// Each user's push devices. Cheap to clone.
#[derive(Clone)]
pub struct Devices {
    store: Arc<dyn DeviceStore>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices").finish_non_exhaustive()
    }
}

impl Devices {
    pub(crate) fn new(store: Arc<dyn DeviceStore>) -> Self {
        Devices { store }
    }

    /// Registers `user`'s device (or registers it again: its platform and time are replaced;
    /// a token another user had moves to `user`). `Invalid` for an empty or over-long
    /// platform (letters, digits, `-`, `_`, `.`) or token (no control characters), `Forbidden`
    /// when the user has [`MAX_DEVICES`] others already.
    #[instrument(skip_all, fields(user, platform = %platform))]
    pub async fn register(
        &self,
        user: UserId,
        platform: &str,
        token: &str,
    ) -> Result<Device, ImError> {
        check_platform(platform)?;
        check_token(token)?;
        let device = Device {
            platform: platform.to_owned(),
            token: token.to_owned(),
            updated_at: now_ms() as i64,
        };
        match self.store.add_device(user, &device, MAX_DEVICES).await {
            Ok(true) => {
                tracing::debug!("device registered");
                Ok(device)
            }
            Ok(false) => Err(ImError::Forbidden("too many devices; remove one first")),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `user`'s device with `token`; `NotFound(Device)` if it has none with it.
    pub async fn remove(&self, user: UserId, token: &str) -> Result<(), ImError> {
        check_token(token)?;
        if self.store.remove_device(user, token).await? {
            Ok(())
        } else {
            Err(ImError::NotFound(Entity::Device))
        }
    }

    /// `user`'s devices, oldest first (at most [`MAX_DEVICES`]).
    pub async fn list(&self, user: UserId) -> Result<Vec<Device>, ImError> {
        Ok(self.store.devices(user).await?)
    }
}

fn check_platform(platform: &str) -> Result<(), ImError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if platform.is_empty() || platform.len() > MAX_PLATFORM || !platform.chars().all(fine) {
        return Err(ImError::invalid(format!(
            "`platform` must be 1 to {MAX_PLATFORM} letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), ImError> {
    if token.is_empty() || token.len() > MAX_DEVICE_TOKEN || token.chars().any(char::is_control) {
        return Err(ImError::invalid(format!(
            "`token` must be 1 to {MAX_DEVICE_TOKEN} bytes, without control characters"
        )));
    }
    Ok(())
}
