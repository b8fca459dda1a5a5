//! [`Friends`]: friend requests (and the notice to their target), friendships, blocks, and
//! finding people by account name.

use std::sync::Arc;

use easyim_proto::frames;
use tracing::instrument;

use crate::engine::Engine;
use crate::error::Entity;
use crate::error::ImError;
use crate::limits::{checked_limit, MAX_LIST_LIMIT};
use crate::storage::{AccountStore, FriendStore, ModerationStore};
use crate::types::{FriendRequest, Page, Paged, Profile, UserId};

/// Longest message that may come with a friend request, in bytes.
pub const MAX_REQUEST_MSG: usize = 512;
/// Longest remark on a friend, in bytes.
pub const MAX_REMARK: usize = 128;
/// Most accounts a search returns (and its default).
pub const SEARCH_LIMIT: usize = 50;

/// Friendships and friend requests. Cheap to clone.
#[derive(Clone)]
pub struct Friends {
    store: Arc<dyn FriendStore>,
    accounts: Arc<dyn AccountStore>,
    blocks: Arc<dyn ModerationStore>,
    engine: Engine,
}

impl std::fmt::Debug for Friends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Friends").finish_non_exhaustive()
    }
}

impl Friends {
    pub(crate) fn new(
        store: Arc<dyn FriendStore>,
        accounts: Arc<dyn AccountStore>,
        blocks: Arc<dyn ModerationStore>,
        engine: Engine,
    ) -> Self {
        Friends {
            store,
            accounts,
            blocks,
            engine,
        }
    }

    /// A page of `me`'s friends, by id ascending. `Invalid` for a limit out of 1 to
    /// [`MAX_LIST_LIMIT`].
    pub async fn list(&self, me: UserId, page: Page) -> Result<Paged<Profile>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        let rows = self
            .store
            .friends(me, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |p| p.id))
    }

    /// How many friends `me` has, all pages together.
    pub async fn count(&self, me: UserId) -> Result<u64, ImError> {
        Ok(self.store.friend_count(me).await?)
    }

    /// Asks `to` to be `me`'s friend, with a short message. The target's connections (on every
    /// node) get a NOTIFY `FRIEND_REQUEST: <request id>`. An open request from `me` to `to` is
    /// returned as it is, and the target is not told again. `Invalid` for oneself or an
    /// over-long message, `NotFound(User)`, `Conflict(AlreadyFriends)`, `Forbidden` if `to`
    /// blocked `me`.
    #[instrument(skip(self, msg))]
    pub async fn add(&self, me: UserId, to: UserId, msg: &str) -> Result<FriendRequest, ImError> {
        if to == me {
            return Err(ImError::invalid("cannot add yourself as a friend"));
        }
        if msg.len() > MAX_REQUEST_MSG {
            return Err(ImError::invalid(format!(
                "`msg` must be at most {MAX_REQUEST_MSG} bytes"
            )));
        }
        if self.blocks.relation(me, to).await?.blocked {
            return Err(ImError::Forbidden("this user does not take your requests"));
        }
        let id = self.engine.next_id();
        let request = self.store.create_friend_request(id, me, to, msg).await?;
        // One open request per pair: a repeated add gets the open one back, and the target is
        // told once (repeating the notice would let anyone flood a user's connections).
        if request.id == id {
            let notice = frames::notice(&to.to_string(), format!("FRIEND_REQUEST: {}", request.id));
            self.engine.notify(to, notice);
        }
        Ok(request)
    }

    /// Accepts (both then list each other) or refuses the request `id` addressed to `me`.
    /// `NotFound(Request)`, `Conflict(AlreadyAnswered)`.
    #[instrument(skip(self))]
    pub async fn answer(
        &self,
        me: UserId,
        id: u64,
        accept: bool,
    ) -> Result<FriendRequest, ImError> {
        Ok(self.store.answer_friend_request(id, me, accept).await?)
    }

    /// Ends the friendship of `me` and `friend` on both sides. `NotFound(Friend)`.
    pub async fn remove(&self, me: UserId, friend: UserId) -> Result<(), ImError> {
        Ok(self.store.remove_friend(me, friend).await?)
    }

    /// A page of the friend requests addressed to `me`, newest first.
    /// `Invalid` for a limit out of 1 to [`MAX_LIST_LIMIT`].
    pub async fn requests(&self, me: UserId, page: Page) -> Result<Paged<FriendRequest>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        let rows = self
            .store
            .friend_requests(me, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |r| r.id))
    }

    /// Accounts whose login name contains `query`, by id, at most `limit`. `Invalid` for an
    /// empty query or a limit out of 1 to [`SEARCH_LIMIT`].
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<Profile>, ImError> {
        if query.is_empty() {
            return Err(ImError::invalid("missing `account`"));
        }
        let limit = checked_limit(limit, SEARCH_LIMIT)?;
        Ok(self.accounts.search_users(query, limit).await?)
    }

    /// Makes `me` block `user`: its 1:1 messages to `me` are refused (`E_BLOCKED`) and so are
    /// its friend requests. Shared groups are not affected. Blocking twice is blocking once.
    /// `Invalid` for oneself, `NotFound(User)`.
    pub async fn block(&self, me: UserId, user: UserId) -> Result<(), ImError> {
        if user == me {
            return Err(ImError::invalid("cannot block yourself"));
        }
        Ok(self.blocks.block_user(me, user).await?)
    }

    /// Lifts `me`'s block on `user`. `NotFound(User)` for a user that does not exist.
    pub async fn unblock(&self, me: UserId, user: UserId) -> Result<(), ImError> {
        if self.accounts.user(user).await?.is_none() {
            return Err(ImError::NotFound(Entity::User));
        }
        Ok(self.blocks.unblock_user(me, user).await?)
    }

    /// A page of the users `me` blocked, by id ascending. `Invalid` for a limit out of 1 to
    /// [`MAX_LIST_LIMIT`].
    pub async fn blocked(&self, me: UserId, page: Page) -> Result<Paged<Profile>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        let rows = self
            .blocks
            .blocked_users(me, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |p| p.id))
    }

    /// [`Friends::list`], each friend with `me`'s remark on it (empty if none).
    pub async fn list_with_remarks(
        &self,
        me: UserId,
        page: Page,
    ) -> Result<Paged<(Profile, String)>, ImError> {
        let friends = self.list(me, page).await?;
        let ids: Vec<UserId> = friends.items.iter().map(|p| p.id).collect();
        let mut remarks = self.blocks.friend_remarks(me, &ids).await?;
        let items = friends
            .items
            .into_iter()
            .map(|p| {
                let remark = remarks
                    .iter_mut()
                    .find(|(f, _)| *f == p.id)
                    .map(|(_, r)| std::mem::take(r))
                    .unwrap_or_default();
                (p, remark)
            })
            .collect();
        Ok(Paged {
            items,
            next: friends.next,
        })
    }

    /// Sets `me`'s remark on its friend `friend` (empty clears it): a name only `me` sees.
    /// `Invalid` past [`MAX_REMARK`] bytes, `NotFound(Friend)`.
    pub async fn set_remark(
        &self,
        me: UserId,
        friend: UserId,
        remark: &str,
    ) -> Result<(), ImError> {
        if remark.len() > MAX_REMARK {
            return Err(ImError::invalid(format!(
                "`remark` must be at most {MAX_REMARK} bytes"
            )));
        }
        Ok(self.blocks.set_friend_remark(me, friend, remark).await?)
    }
}
