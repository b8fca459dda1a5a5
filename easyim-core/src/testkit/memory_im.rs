//! A whole [`Im`] in memory, for tests of code built on the core.

use std::sync::Arc;

use crate::accounts::{Registration, SignedIn};
use crate::auth::{Auth, JwtAuth};
use crate::config::EngineConfig;
use crate::im::Im;
use crate::memory::MemoryStorage;
use crate::storage::Storage;

/// An [`Im`] on a fresh [`MemoryStorage`] with a [`JwtAuth`] (one-hour access tokens) and
/// `config`.
pub fn memory_im(config: EngineConfig) -> Im {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let auth: Arc<dyn Auth> = Arc::new(JwtAuth::new(storage.clone(), "testkit", 3600, 86_400));
    Im::new(storage, auth, config)
}

/// Registers `account` (password `"password"`, nickname the account) and signs it in; panics
/// if that fails.
pub async fn sign_up(im: &Im, account: &str) -> SignedIn {
    im.accounts()
        .register(Registration::new(account, "password", account))
        .await
        .unwrap_or_else(|e| panic!("register {account}: {e}"))
}
