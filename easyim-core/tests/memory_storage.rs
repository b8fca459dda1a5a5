//! `MemoryStorage` against the storage conformance kit: all of it, and trait by trait; and a
//! storage of only `AccountStore` that breaks a contract, to see its entry point catch it.

use std::sync::Arc;

use async_trait::async_trait;
use easyim_core::testkit::{run_account_store, run_friend_store, run_group_store};
use easyim_core::{AccountStore, MemoryStorage, Profile, Result, Storage, User, UserId};

#[tokio::test]
async fn memory_storage_passes_the_conformance_kit() {
    easyim_core::testkit::run_all(|| async { Arc::new(MemoryStorage::new()) as Arc<dyn Storage> })
        .await;
}

#[tokio::test]
async fn memory_storage_passes_each_trait_alone() {
    let make = || async { Arc::new(MemoryStorage::new()) };
    run_account_store(make).await;
    run_friend_store(make).await;
    run_group_store(make).await;
    easyim_core::testkit::run_message_store(make).await;
    easyim_core::testkit::run_moderation_store(make).await;
    easyim_core::testkit::run_outbox_store(make).await;
}

/// Only an `AccountStore`, over a `MemoryStorage`, whose `user_by_account` ignores case: the
/// contract wants the exact account.
#[derive(Debug, Default)]
struct CaseBlindAccounts(MemoryStorage);

#[async_trait]
impl AccountStore for CaseBlindAccounts {
    async fn create_user(&self, user: User) -> Result<User> {
        self.0.create_user(user).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.0.user(id).await
    }
    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let found = self.0.search_users("", usize::MAX).await?;
        let Some(p) = found
            .iter()
            .find(|p| p.account.eq_ignore_ascii_case(account))
        else {
            return Ok(None);
        };
        self.0.user(p.id).await
    }
    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()> {
        self.0.set_user_secret(id, secret).await
    }
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()> {
        self.0.set_password_hash(id, password_hash).await
    }
    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        self.0.advance_refresh(user, family, generation).await
    }
    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        self.0.search_users(query, limit).await
    }
    async fn server_secret(&self, candidate: &str) -> Result<String> {
        self.0.server_secret(candidate).await
    }
    async fn ping(&self) -> Result<()> {
        self.0.ping().await
    }
}

#[tokio::test]
#[should_panic(expected = "AccountStore conformance: 1 of 5 checks failed:\n- check_accounts")]
async fn run_account_store_catches_a_broken_account_store() {
    run_account_store(|| async { Arc::new(CaseBlindAccounts::default()) }).await;
}
