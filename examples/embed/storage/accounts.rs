//! The `AccountStore` part of [`TableStorage`]: the `users` table and the server secret.

use async_trait::async_trait;
use easyim_core::{AccountStore, Conflict, Entity, Profile, Result, StorageError, User, UserId};

use super::TableStorage;

#[async_trait]
impl AccountStore for TableStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let mut db = self.db();
        if db.users.values().any(|u| u.account == user.account) {
            return Err(StorageError::Conflict(Conflict::Account));
        }
        if db.users.contains_key(&user.id) {
            return Err(StorageError::Conflict(Conflict::User));
        }
        db.users.insert(user.id, user.clone());
        if self.events.wants(easyim_core::EventKind::UserRegistered) {
            let at = easyim_core::now_ms() as i64;
            let event = easyim_core::user_registered(user.id, &user.account, &user.nickname, at);
            db.outbox.insert(event);
        }
        Ok(user)
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.db().users.get(&id).cloned())
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        Ok(self
            .db()
            .users
            .values()
            .find(|u| u.account == account)
            .cloned())
    }

    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()> {
        let mut db = self.db();
        let user = db
            .users
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::User))?;
        user.secret = secret.to_owned();
        db.refresh.retain(|(u, _), _| *u != id);
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()> {
        let mut db = self.db();
        let user = db
            .users
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::User))?;
        user.password_hash = password_hash.to_owned();
        Ok(())
    }

    async fn advance_refresh(&self, user: UserId, family: u64, generation: u64) -> Result<bool> {
        let mut db = self.db();
        let at = db.refresh.entry((user, family)).or_insert(0);
        let current = *at == generation;
        if current {
            *at += 1;
        }
        Ok(current)
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        let db = self.db();
        let found = db.users.values().filter(|u| u.account.contains(query));
        Ok(found.take(limit).map(User::profile).collect())
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let mut db = self.db();
        Ok(db
            .server_secret
            .get_or_insert_with(|| candidate.to_owned())
            .clone())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
