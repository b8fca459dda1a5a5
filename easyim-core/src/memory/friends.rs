//! [`FriendStore`] for [`MemoryStorage`].

use async_trait::async_trait;

use super::MemoryStorage;
use crate::error::{Conflict, Entity, Result, StorageError};
use crate::events::{friend_answered, friend_removed, friend_requested, EventKind};
use crate::ids::now_ms;
use crate::storage::FriendStore;
use crate::types::{FriendRequest, Page, Profile, RequestStatus, UserId};

#[async_trait]
impl FriendStore for MemoryStorage {
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let mut st = self.lock();
        if !st.users.contains_key(&to) {
            return Err(StorageError::NotFound(Entity::User));
        }
        if st.friends.contains(&(from, to)) {
            return Err(StorageError::Conflict(Conflict::AlreadyFriends));
        }
        if let Some(open) = st
            .requests
            .iter()
            .find(|r| r.from == from && r.to == to && r.status == RequestStatus::Open)
        {
            return Ok(open.clone());
        }
        if st.request_index.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Request));
        }
        let req = FriendRequest {
            id,
            from,
            to,
            msg: msg.to_owned(),
            status: RequestStatus::Open,
        };
        let at = st.requests.len();
        st.requests.push(req.clone());
        st.request_index.insert(id, at);
        if self.events.wants(EventKind::FriendRequested) {
            st.outbox.push(friend_requested(&req, now_ms() as i64));
        }
        Ok(req)
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        let st = self.lock();
        // `requests` is in arrival order: the page is what came before the named request.
        let end = match page.after {
            None => st.requests.len(),
            Some(after) => st.request_index.get(&after).copied().unwrap_or(0),
        };
        Ok(st.requests[..end]
            .iter()
            .rev()
            .filter(|r| r.to == to)
            .take(page.limit)
            .cloned()
            .collect())
    }

    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        let mut st = self.lock();
        let at = match st.request_index.get(&id) {
            Some(&at) if st.requests[at].to == to => at,
            _ => return Err(StorageError::NotFound(Entity::Request)),
        };
        if st.requests[at].status != RequestStatus::Open {
            return Err(StorageError::Conflict(Conflict::AlreadyAnswered));
        }
        let req = &mut st.requests[at];
        req.status = if accept {
            RequestStatus::Accepted
        } else {
            RequestStatus::Refused
        };
        let req = req.clone();
        if accept {
            st.friends.insert((req.from, req.to));
            st.friends.insert((req.to, req.from));
        }
        let kind = if accept {
            EventKind::FriendAccepted
        } else {
            EventKind::FriendRefused
        };
        if self.events.wants(kind) {
            st.outbox.extend(friend_answered(&req, now_ms() as i64));
        }
        Ok(req)
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let st = self.lock();
        let ids: Vec<UserId> = st
            .friends
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .map(|&(_, f)| f)
            .filter(|&f| page.after.is_none_or(|after| f > after))
            .take(page.limit)
            .collect();
        Ok(st.profiles(ids))
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        let st = self.lock();
        Ok(st
            .friends
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .count() as u64)
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let mut st = self.lock();
        if !st.friends.remove(&(user, friend)) {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        st.friends.remove(&(friend, user));
        st.remarks.remove(&(user, friend));
        st.remarks.remove(&(friend, user));
        if self.events.wants(EventKind::FriendRemoved) {
            st.outbox
                .push(friend_removed(user, friend, now_ms() as i64));
        }
        Ok(())
    }
}
