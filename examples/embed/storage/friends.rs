//! The `FriendStore` part of [`TableStorage`]: the `friends` and `friend_requests` tables.

use async_trait::async_trait;
use easyim_core::{
    friend_answered, friend_removed, friend_requested, now_ms, Conflict, Entity, EventKind,
    FriendRequest, FriendStore, Page, Profile, RequestStatus, Result, StorageError, UserId,
};

use super::TableStorage;

#[async_trait]
impl FriendStore for TableStorage {
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let mut db = self.db();
        if !db.users.contains_key(&to) {
            return Err(StorageError::NotFound(Entity::User));
        }
        if db.friends.contains(&(from, to)) {
            return Err(StorageError::Conflict(Conflict::AlreadyFriends));
        }
        let open =
            |r: &&FriendRequest| r.from == from && r.to == to && r.status == RequestStatus::Open;
        if let Some(r) = db.requests.iter().find(open) {
            return Ok(r.clone());
        }
        if db.requests.iter().any(|r| r.id == id) {
            return Err(StorageError::Conflict(Conflict::Request));
        }
        let req = FriendRequest {
            id,
            from,
            to,
            msg: msg.to_owned(),
            status: RequestStatus::Open,
        };
        db.requests.push(req.clone());
        if self.events.wants(EventKind::FriendRequested) {
            db.outbox.insert(friend_requested(&req, now_ms() as i64));
        }
        Ok(req)
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        let db = self.db();
        // Rows in insertion order: the page is what was inserted before the named request.
        let end = match page.after {
            None => db.requests.len(),
            Some(after) => db.requests.iter().position(|r| r.id == after).unwrap_or(0),
        };
        let found = db.requests[..end].iter().rev().filter(|r| r.to == to);
        Ok(found.take(page.limit).cloned().collect())
    }

    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        let mut db = self.db();
        let req = db
            .requests
            .iter_mut()
            .find(|r| r.id == id && r.to == to)
            .ok_or(StorageError::NotFound(Entity::Request))?;
        if req.status != RequestStatus::Open {
            return Err(StorageError::Conflict(Conflict::AlreadyAnswered));
        }
        req.status = if accept {
            RequestStatus::Accepted
        } else {
            RequestStatus::Refused
        };
        let req = req.clone();
        if accept {
            db.friends.insert((req.from, req.to));
            db.friends.insert((req.to, req.from));
        }
        let kind = if accept {
            EventKind::FriendAccepted
        } else {
            EventKind::FriendRefused
        };
        if self.events.wants(kind) {
            if let Some(event) = friend_answered(&req, now_ms() as i64) {
                db.outbox.insert(event);
            }
        }
        Ok(req)
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let db = self.db();
        let from = page.after.map_or(0, |a| a.saturating_add(1));
        let ids = db
            .friends
            .range((user, from)..=(user, UserId::MAX))
            .map(|&(_, f)| f)
            .filter(|&f| page.after.is_none_or(|a| f > a))
            .take(page.limit);
        Ok(db.profiles(ids))
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        let db = self.db();
        Ok(db.friends.range((user, 0)..=(user, UserId::MAX)).count() as u64)
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let mut db = self.db();
        if !db.friends.remove(&(user, friend)) {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        db.friends.remove(&(friend, user));
        db.remarks.remove(&(user, friend));
        db.remarks.remove(&(friend, user));
        if self.events.wants(EventKind::FriendRemoved) {
            db.outbox
                .insert(friend_removed(user, friend, now_ms() as i64));
        }
        Ok(())
    }
}
