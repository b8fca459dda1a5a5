//! [`FriendStore`] for [`PgStorage`]: friend requests and friendships.

use async_trait::async_trait;
use easyim_core::{Entity, FriendRequest, FriendStore, Profile, StorageError, UserId};

use crate::error::Result;
use crate::rows::{id, profile_row, request_row, rows, REQUEST_COLUMNS};
use crate::PgStorage;

#[async_trait]
impl FriendStore for PgStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let row = self
            .query_one(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM easyim_create_friend_request($1, $2, $3, $4)"
                ),
                &[&id(request), &id(from), &id(to), &msg],
            )
            .await?;
        Ok(request_row(&row))
    }

    async fn friend_requests(&self, to: UserId) -> Result<Vec<FriendRequest>> {
        let found = self
            .query(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM friend_requests
                     WHERE to_user = $1 ORDER BY seq DESC"
                ),
                &[&id(to)],
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
        let row = self
            .query_one(
                &format!("SELECT {REQUEST_COLUMNS} FROM easyim_answer_friend_request($1, $2, $3)"),
                &[&id(request), &id(to), &accept],
            )
            .await?;
        Ok(request_row(&row))
    }

    async fn friends(&self, user: UserId) -> Result<Vec<Profile>> {
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = $1 ORDER BY u.id",
                &[&id(user)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let n = self
            .execute(
                "DELETE FROM friends WHERE (user_id = $1 AND friend_id = $2)
                                        OR (user_id = $2 AND friend_id = $1)",
                &[&id(user), &id(friend)],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        Ok(())
    }
}
