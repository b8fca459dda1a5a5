//! [`AccountStore`] for [`MemoryStorage`]: accounts, per-user token secrets, the server secret.

use async_trait::async_trait;

use super::MemoryStorage;
use crate::error::{Conflict, Entity, Result, StorageError};
use crate::storage::AccountStore;
use crate::types::{Profile, User, UserId};

#[async_trait]
impl AccountStore for MemoryStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let mut st = self.lock();
        if st.accounts.contains_key(&user.account) {
            return Err(StorageError::Conflict(Conflict::Account));
        }
        if st.users.contains_key(&user.id) {
            return Err(StorageError::Conflict(Conflict::User));
        }
        st.accounts.insert(user.account.clone(), user.id);
        st.users.insert(user.id, user.clone());
        if self.events.wants(crate::events::EventKind::UserRegistered) {
            let event = crate::events::user_registered(
                user.id,
                &user.account,
                &user.nickname,
                crate::ids::now_ms() as i64,
            );
            st.outbox.push(event);
        }
        Ok(user)
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let st = self.lock();
        Ok(st
            .accounts
            .get(account)
            .and_then(|id| st.users.get(id))
            .cloned())
    }

    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()> {
        let mut st = self.lock();
        let user = st
            .users
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::User))?;
        user.secret = secret.to_owned();
        st.refresh.retain(|(u, _), _| *u != id);
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()> {
        let mut st = self.lock();
        let user = st
            .users
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::User))?;
        user.password_hash = password_hash.to_owned();
        Ok(())
    }

    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        let mut st = self.lock();
        let at = st.refresh.entry((user, family)).or_insert(0);
        if *at != generation {
            return Ok(false);
        }
        *at += 1;
        Ok(true)
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        let st = self.lock();
        Ok(st
            .users
            .values()
            .filter(|u| u.account.contains(query))
            .take(limit)
            .map(User::profile)
            .collect())
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let mut st = self.lock();
        Ok(st
            .server_secret
            .get_or_insert_with(|| candidate.to_owned())
            .clone())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
