//! `GET /api/presence`: whether some users are online, for the caller's friends and the
//! members of its groups only (nobody can probe a stranger).

use std::collections::HashSet;

use crate::engine::Engine;
use crate::error::ImError;
use crate::types::{Page, UserId};

/// The most users one presence query names.
pub const PRESENCE_QUERY_MAX: usize = 200;
/// The caller's friends and groups read in one storage call.
const PAGE: usize = 1000;
/// The most of the caller's friends considered (friends past it count as strangers).
const FRIENDS_MAX: usize = 10_000;

/// One user's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceItem {
    /// The user.
    pub id: UserId,
    /// Whether it has a connection on some node.
    pub online: bool,
    /// When its last connection closed, in ms since the Unix epoch; 0 while online, or if
    /// not known (no node saw it go since it started).
    pub last_seen: i64,
}

impl Engine {
    /// The presence of those of `ids` (at most [`PRESENCE_QUERY_MAX`]) who are `me`'s friends
    /// or members of one of `me`'s groups, in the order asked (each once); the others are left
    /// out. `Invalid` for too many ids.
    pub async fn presence(&self, me: UserId, ids: &[UserId]) -> Result<Vec<PresenceItem>, ImError> {
        if ids.len() > PRESENCE_QUERY_MAX {
            return Err(ImError::invalid(format!(
                "user_ids: at most {PRESENCE_QUERY_MAX} ids"
            )));
        }
        let node = self.node();
        let Some(directory) = &node.directory else {
            return Ok(Vec::new());
        };
        let mut wanted: Vec<UserId> = Vec::with_capacity(ids.len());
        let mut once = HashSet::new();
        for &id in ids {
            if id != me && once.insert(id) {
                wanted.push(id);
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // The caller's friends.
        let mut visible: HashSet<UserId> = HashSet::new();
        let mut page = Page::first(PAGE);
        let mut read = 0;
        loop {
            let friends = directory.friends(me, page).await?;
            read += friends.len();
            let last = friends.last().map(|f| f.id);
            visible.extend(friends.iter().map(|f| f.id).filter(|id| once.contains(id)));
            match last {
                Some(after) if friends.len() == PAGE && read < FRIENDS_MAX => {
                    page = Page {
                        after: Some(after),
                        limit: PAGE,
                    }
                }
                _ => break,
            }
        }
        // The others: a group in common (the caller's groups, then each one's).
        let strangers: Vec<UserId> = wanted
            .iter()
            .copied()
            .filter(|id| !visible.contains(id))
            .collect();
        if !strangers.is_empty() {
            let mine: HashSet<u64> = directory
                .groups_of(me, Page::first(PAGE))
                .await?
                .into_iter()
                .map(|g| g.id)
                .collect();
            if !mine.is_empty() {
                for id in strangers {
                    let theirs = directory.groups_of(id, Page::first(PAGE)).await?;
                    if theirs.iter().any(|g| mine.contains(&g.id)) {
                        visible.insert(id);
                    }
                }
            }
        }
        Ok(wanted
            .into_iter()
            .filter(|id| visible.contains(id))
            .map(|id| {
                let (online, last_seen) = node.online(id);
                PresenceItem {
                    id,
                    online,
                    last_seen: if online { 0 } else { last_seen },
                }
            })
            .collect())
    }
}
