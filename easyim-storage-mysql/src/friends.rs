//! [`FriendStore`] for [`MysqlStorage`]: friend requests and friendships.

use async_trait::async_trait;
use easyim_core::{
    friend_answered, friend_removed, friend_requested, now_ms, Conflict, Entity, EventKind,
    FriendRequest, FriendStore, Page, Profile, RequestStatus, StorageError, UserId,
};
use mysql_async::prelude::Queryable;
use mysql_async::Row;

use crate::error::Result;
use crate::outbox::insert_events;
use crate::rows::{
    exec_count, id, map_rows, profile_row, request_row, to_i64, uid, vals, REQUEST_COLUMNS,
};
use crate::{transaction, MysqlStorage};

#[async_trait]
impl FriendStore for MysqlStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let open_sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM friend_requests
             WHERE from_user = ? AND to_user = ? AND status = 0"
        );
        let report = self.events.wants(EventKind::FriendRequested);
        let found = transaction!(self, |tx| {
            let user: Option<i64> = tx
                .exec_first("SELECT id FROM users WHERE id = ?", vals![id(to)])
                .await?;
            if user.is_none() {
                return Err(StorageError::NotFound(Entity::User).into());
            }
            let friends: Option<i64> = tx
                .exec_first(
                    "SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?",
                    vals![id(from), id(to)],
                )
                .await?;
            if friends.is_some() {
                return Err(StorageError::Conflict(Conflict::AlreadyFriends).into());
            }
            let open: Option<Row> = tx
                .exec_first(open_sql.as_str(), vals![id(from), id(to)])
                .await?;
            if let Some(open) = open {
                request_row(&open)?
            } else {
                // A taken id, or an open request of the pair stored by another node since
                // (the unique index on open requests), inserts nothing.
                let n = exec_count(
                    &mut tx,
                    "INSERT INTO friend_requests (id, from_user, to_user, msg, status)
                     VALUES (?, ?, ?, ?, 0) ON DUPLICATE KEY UPDATE id = id",
                    vals![id(request), id(from), id(to), msg],
                )
                .await?;
                if n == 1 {
                    let made = FriendRequest {
                        id: request,
                        from,
                        to,
                        msg: msg.to_owned(),
                        status: RequestStatus::Open,
                    };
                    if report {
                        let event = friend_requested(&made, now_ms() as i64);
                        insert_events(&mut tx, &[event]).await?;
                    }
                    made
                } else {
                    let open: Option<Row> = tx
                        .exec_first(open_sql.as_str(), vals![id(from), id(to)])
                        .await?;
                    match open {
                        Some(open) => request_row(&open)?,
                        None => return Err(StorageError::Conflict(Conflict::Request).into()),
                    }
                }
            }
        })?;
        Ok(found)
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        // The page's key is a request id; the list's order is arrival (`seq`), so the page
        // starts below the seq of that request: one range read of (to_user, seq).
        let found = match page.after {
            Some(after) => {
                self.rows(
                    &format!(
                        "SELECT {REQUEST_COLUMNS} FROM friend_requests
                         WHERE to_user = ?
                           AND seq < (SELECT r.seq FROM friend_requests r WHERE r.id = ?)
                         ORDER BY seq DESC LIMIT ?"
                    ),
                    vals![id(to), to_i64(after), to_i64(page.limit)],
                )
                .await?
            }
            None => {
                self.rows(
                    &format!(
                        "SELECT {REQUEST_COLUMNS} FROM friend_requests
                         WHERE to_user = ? ORDER BY seq DESC LIMIT ?"
                    ),
                    vals![id(to), to_i64(page.limit)],
                )
                .await?
            }
        };
        Ok(map_rows(found, request_row)?)
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
        let answered = transaction!(self, |tx| {
            let row: Option<Row> = tx
                .exec_first(
                    format!(
                        "SELECT {REQUEST_COLUMNS} FROM friend_requests
                         WHERE id = ? AND to_user = ? FOR UPDATE"
                    ),
                    vals![id(request), id(to)],
                )
                .await?;
            let Some(row) = row else {
                return Err(StorageError::NotFound(Entity::Request).into());
            };
            let mut found = request_row(&row)?;
            if found.status != RequestStatus::Open {
                return Err(StorageError::Conflict(Conflict::AlreadyAnswered).into());
            }
            found.status = if accept {
                RequestStatus::Accepted
            } else {
                RequestStatus::Refused
            };
            tx.exec_drop(
                "UPDATE friend_requests SET status = ? WHERE id = ?",
                vals![found.status as i64, id(request)],
            )
            .await?;
            if accept {
                tx.exec_drop(
                    "INSERT INTO friends (user_id, friend_id, remark) VALUES (?, ?, ''), (?, ?, '')
                     ON DUPLICATE KEY UPDATE user_id = user_id",
                    vals![id(found.from), id(found.to), id(found.to), id(found.from)],
                )
                .await?;
            }
            if report {
                if let Some(event) = friend_answered(&found, now_ms() as i64) {
                    insert_events(&mut tx, &[event]).await?;
                }
            }
            found
        })?;
        Ok(answered)
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .rows(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = ? AND f.friend_id > ? ORDER BY f.friend_id LIMIT ?",
                vals![id(user), after, to_i64(page.limit)],
            )
            .await?;
        Ok(map_rows(found, profile_row)?)
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        let row = self
            .row(
                "SELECT COUNT(*) FROM friends WHERE user_id = ?",
                vals![id(user)],
            )
            .await?;
        Ok(match row {
            Some(r) => uid(&r, 0)?,
            None => 0,
        })
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let report = self.events.wants(EventKind::FriendRemoved);
        transaction!(self, |tx| {
            let n = exec_count(
                &mut tx,
                "DELETE FROM friends WHERE (user_id = ? AND friend_id = ?)
                                        OR (user_id = ? AND friend_id = ?)",
                vals![id(user), id(friend), id(friend), id(user)],
            )
            .await?;
            if n == 0 {
                return Err(StorageError::NotFound(Entity::Friend).into());
            }
            if report {
                let event = friend_removed(user, friend, now_ms() as i64);
                insert_events(&mut tx, &[event]).await?;
            }
        })?;
        Ok(())
    }
}
