//! [`FriendStore`] for [`PgStorage`]: friend requests and friendships.

use async_trait::async_trait;
use easyim_core::{
    friend_answered, friend_removed, friend_requested, now_ms, Entity, EventKind, FriendRequest,
    FriendStore, Page, Profile, StorageError, UserId,
};
use tokio_postgres::Row;

use crate::error::Result;
use crate::rows::{id, profile_row, request_row, rows, to_i64, REQUEST_COLUMNS};
use crate::PgStorage;

/// The one row a statement returns.
fn first(rows: &[Row]) -> Result<&Row> {
    rows.first().ok_or_else(|| {
        StorageError::unavailable_msg("PostgreSQL returned no row where one was expected")
    })
}

#[async_trait]
impl FriendStore for PgStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        // The function returns the request it made, or the open one it found instead (whose
        // id is another): only a new one is reported.
        let report = self
            .events
            .wants(EventKind::FriendRequested)
            .then_some(|rows: &[Row]| {
                rows.first()
                    .map(request_row)
                    .filter(|r| r.id == request)
                    .map(|r| friend_requested(&r, now_ms() as i64))
                    .into_iter()
                    .collect()
            });
        let rows = self
            .query_reporting(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM easyim_create_friend_request($1, $2, $3, $4)"
                ),
                &[&id(request), &id(from), &id(to), &msg],
                report,
            )
            .await?;
        Ok(request_row(first(&rows)?))
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        // The page's key is a request id; the list's order is arrival (`seq`), so the page
        // starts below the seq of that request: one range read of (to_user, seq).
        let after: Option<i64> = page.after.map(to_i64);
        let found = self
            .query(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM friend_requests
                     WHERE to_user = $1
                       AND ($2::bigint IS NULL
                            OR seq < (SELECT seq FROM friend_requests WHERE id = $2))
                     ORDER BY seq DESC LIMIT $3"
                ),
                &[&id(to), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, request_row))
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
        // The function raises unless it answered: a row is an answer made.
        let report = self.events.wants(kind).then_some(|rows: &[Row]| {
            rows.first()
                .and_then(|r| friend_answered(&request_row(r), now_ms() as i64))
                .into_iter()
                .collect()
        });
        let rows = self
            .query_reporting(
                &format!("SELECT {REQUEST_COLUMNS} FROM easyim_answer_friend_request($1, $2, $3)"),
                &[&id(request), &id(to), &accept],
                report,
            )
            .await?;
        Ok(request_row(first(&rows)?))
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let after = page.after.map_or(i64::MIN, to_i64);
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = $1 AND f.friend_id > $2 ORDER BY f.friend_id LIMIT $3",
                &[&id(user), &after, &to_i64(page.limit)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        let row = self
            .query_one(
                "SELECT count(*) FROM friends WHERE user_id = $1",
                &[&id(user)],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let report = self
            .events
            .wants(EventKind::FriendRemoved)
            .then_some(|rows: &[Row]| {
                if rows.is_empty() {
                    Vec::new()
                } else {
                    vec![friend_removed(user, friend, now_ms() as i64)]
                }
            });
        let n = self
            .query_reporting(
                "DELETE FROM friends WHERE (user_id = $1 AND friend_id = $2)
                                        OR (user_id = $2 AND friend_id = $1)
                 RETURNING 1",
                &[&id(user), &id(friend)],
                report,
            )
            .await?
            .len();
        if n == 0 {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        Ok(())
    }
}
