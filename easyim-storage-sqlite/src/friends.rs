//! [`FriendStore`] for [`SqliteStorage`]: friend requests and friendships.

use async_trait::async_trait;
use easyim_core::{
    friend_answered, friend_removed, friend_requested, now_ms, Conflict, Entity, EventKind,
    FriendRequest, FriendStore, Page, Profile, RequestStatus, StorageError, UserId,
};
use rusqlite::{params, OptionalExtension};

use crate::error::Result;
use crate::outbox::insert_event;
use crate::rows::{are_friends, id, limit_i64, profile_row, request_row, to_i64, user_exists};
use crate::SqliteStorage;

#[async_trait]
impl FriendStore for SqliteStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let msg = msg.to_owned();
        let report = self.events.wants(EventKind::FriendRequested);
        self.write(move |c| {
            let (from, to) = (id(from), id(to));
            if !user_exists(c, to)? {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            if are_friends(c, from, to)? {
                return Err(StorageError::Conflict(Conflict::AlreadyFriends).into());
            }
            let open = c
                .prepare_cached(
                    "SELECT id, from_user, to_user, msg, status FROM friend_requests
                     WHERE from_user = ?1 AND to_user = ?2 AND status = ?3
                     ORDER BY seq DESC LIMIT 1",
                )?
                .query_row(params![from, to, RequestStatus::Open as i64], request_row)
                .optional()?;
            if let Some(open) = open {
                return Ok(open);
            }
            let exists: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM friend_requests WHERE id = ?1)")?
                .query_row([id(request)], |r| r.get(0))?;
            if exists {
                return Err(StorageError::Conflict(Conflict::Request).into());
            }
            c.prepare_cached(
                "INSERT INTO friend_requests (id, from_user, to_user, msg, status)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                id(request),
                from,
                to,
                msg,
                RequestStatus::Open as i64
            ])?;
            let made = FriendRequest {
                id: request,
                from: from as u64,
                to: to as u64,
                msg,
                status: RequestStatus::Open,
            };
            if report {
                insert_event(c, &friend_requested(&made, now_ms() as i64))?;
            }
            Ok(made)
        })
        .await
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        // The page's key is a request id; the list's order is arrival (`seq`), so the page
        // starts below the seq of that request: one range read of (to_user, seq).
        let (after, limit) = (page.after.map(to_i64), limit_i64(page.limit));
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, from_user, to_user, msg, status FROM friend_requests
                 WHERE to_user = ?1
                   AND (?2 IS NULL OR seq < (SELECT seq FROM friend_requests WHERE id = ?2))
                 ORDER BY seq DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id(to), after, limit], request_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn answer_friend_request(
        &self,
        request: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        let kind = if accept {
            EventKind::FriendAccepted
        } else {
            EventKind::FriendRefused
        };
        let report = self.events.wants(kind);
        self.write(move |c| {
            let found = c
                .prepare_cached(
                    "SELECT id, from_user, to_user, msg, status FROM friend_requests
                     WHERE id = ?1 AND to_user = ?2",
                )?
                .query_row([id(request), id(to)], request_row)
                .optional()?;
            let Some(mut found) = found else {
                return Err(StorageError::NotFound(Entity::Request).into());
            };
            if found.status != RequestStatus::Open {
                return Err(StorageError::Conflict(Conflict::AlreadyAnswered).into());
            }
            found.status = if accept {
                RequestStatus::Accepted
            } else {
                RequestStatus::Refused
            };
            c.prepare_cached("UPDATE friend_requests SET status = ?2 WHERE id = ?1")?
                .execute([id(request), found.status as i64])?;
            if accept {
                let mut add = c.prepare_cached(
                    "INSERT OR IGNORE INTO friends (user_id, friend_id) VALUES (?1, ?2)",
                )?;
                add.execute([id(found.from), id(found.to)])?;
                add.execute([id(found.to), id(found.from)])?;
            }
            if report {
                if let Some(event) = friend_answered(&found, now_ms() as i64) {
                    insert_event(c, &event)?;
                }
            }
            Ok(found)
        })
        .await
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = ?1 AND f.friend_id > ?2 ORDER BY f.friend_id LIMIT ?3",
            )?;
            let rows = stmt.query_map([id(user), after, limit_i64(page.limit)], profile_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        self.read(move |c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM friends WHERE user_id = ?1")?
                .query_row([id(user)], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let report = self.events.wants(EventKind::FriendRemoved);
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM friends WHERE (user_id = ?1 AND friend_id = ?2)
                                            OR (user_id = ?2 AND friend_id = ?1)",
                )?
                .execute([id(user), id(friend)])?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Friend).into());
            }
            if report {
                insert_event(c, &friend_removed(user, friend, now_ms() as i64))?;
            }
            Ok(())
        })
        .await
    }
}
