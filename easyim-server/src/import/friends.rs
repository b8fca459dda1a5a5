//! `friends` (both ways) and the open `friend_add_logs` (as friend requests).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use easyim_core::{
    AccountStore, Conflict, FriendRequest, FriendStore, Page, Snowflake, Storage, StorageError,
    UserId, MAX_LIST_LIMIT, MAX_REMARK,
};

use super::source::Original;
use super::{our_id, ImportError, ImportReport};

/// Imports the friendships, then the open requests.
pub(super) async fn import(
    store: &dyn Storage,
    ids: &Snowflake,
    original: &Original,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    friendships(store, ids, original, report).await?;
    requests(store, ids, original, report).await
}

/// One friendship per pair of users, whichever side's rows the original had: made by a
/// request accepted in the same run; then the remarks on the friendships made.
async fn friendships(
    store: &dyn Storage,
    ids: &Snowflake,
    original: &Original,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut seen = HashSet::new();
    let mut made = HashSet::new();
    for f in &original.friends {
        if f.sort > 0 {
            report.not_kept("friends.sort");
        }
        let (Some(a), Some(b)) = (our_id(f.user_id), our_id(f.friend_id)) else {
            report.friendships.skipped += 1;
            report.skip(format!(
                "friendship {} - {}: invalid id",
                f.user_id, f.friend_id
            ));
            continue;
        };
        if a == b {
            report.friendships.skipped += 1;
            report.skip(format!("friendship {a} - {b}: a user with itself"));
            continue;
        }
        if !seen.insert((a.min(b), a.max(b))) {
            continue;
        }
        if let Some(why) = missing_user(store, &[a, b]).await? {
            report.friendships.skipped += 1;
            report.skip(format!("friendship {a} - {b}: {why}"));
            continue;
        }
        let request = match store.create_friend_request(ids.next_id(), a, b, "").await {
            Ok(r) => r,
            Err(StorageError::Conflict(Conflict::AlreadyFriends)) => {
                report.friendships.present += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match store.answer_friend_request(request.id, b, true).await {
            Ok(_) => {
                report.friendships.imported += 1;
                made.insert((a.min(b), a.max(b)));
            }
            Err(StorageError::Conflict(_)) => report.friendships.present += 1,
            Err(e) => return Err(e.into()),
        }
    }
    remarks(store, original, &made, report).await
}

/// Each side's `remark` on a friendship this run made (one already here keeps the remarks it
/// has: they may have been changed since).
async fn remarks(
    store: &dyn Storage,
    original: &Original,
    made: &HashSet<(UserId, UserId)>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for f in original.friends.iter().filter(|f| !f.remark.is_empty()) {
        let (Some(a), Some(b)) = (our_id(f.user_id), our_id(f.friend_id)) else {
            continue;
        };
        if !made.contains(&(a.min(b), a.max(b))) {
            continue;
        }
        if f.remark.len() > MAX_REMARK {
            report.skip(format!("remark of {a} on {b}: over {MAX_REMARK} bytes"));
            continue;
        }
        store.set_friend_remark(a, b, &f.remark).await?;
    }
    Ok(())
}

/// The requests still open in the original (`status` 0). One that exists here already between
/// the same users (in any state: it may have been answered since) is left alone.
async fn requests(
    store: &dyn Storage,
    ids: &Snowflake,
    original: &Original,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut open: Vec<_> = original.requests.iter().filter(|r| r.status == 0).collect();
    // Stored in the order they were made, so that "newest first" stays true.
    open.sort_by(|x, y| (&x.created_at, x.id).cmp(&(&y.created_at, y.id)));
    let mut addressed: HashMap<UserId, Vec<FriendRequest>> = HashMap::new();
    for r in open {
        let (Some(from), Some(to)) = (our_id(r.user_id), our_id(r.friend_id)) else {
            report.requests.skipped += 1;
            report.skip(format!("friend request {}: invalid user id", r.id));
            continue;
        };
        if from == to {
            report.requests.skipped += 1;
            report.skip(format!("friend request {}: from a user to itself", r.id));
            continue;
        }
        if let Some(why) = missing_user(store, &[from, to]).await? {
            report.requests.skipped += 1;
            report.skip(format!("friend request {} ({from} -> {to}): {why}", r.id));
            continue;
        }
        if let Entry::Vacant(e) = addressed.entry(to) {
            e.insert(all_requests_to(store, to).await?);
        }
        let here = addressed.get(&to).map(Vec::as_slice).unwrap_or_default();
        if here.iter().any(|q| q.from == from) {
            report.requests.present += 1;
            continue;
        }
        match store
            .create_friend_request(ids.next_id(), from, to, &r.msg)
            .await
        {
            Ok(made) => {
                report.requests.imported += 1;
                addressed.entry(to).or_default().push(made);
            }
            Err(StorageError::Conflict(Conflict::AlreadyFriends)) => {
                report.requests.skipped += 1;
                report.skip(format!(
                    "friend request {} ({from} -> {to}): they are friends already",
                    r.id
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Every friend request addressed to `to`, page by page.
async fn all_requests_to(
    store: &dyn FriendStore,
    to: UserId,
) -> Result<Vec<FriendRequest>, ImportError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .friend_requests(to, Page::new(after, MAX_LIST_LIMIT))
            .await?;
        let full = page.len() == MAX_LIST_LIMIT;
        after = page.last().map(|r| r.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Why a row naming `users` cannot be imported: one of them is not here (not imported).
pub(super) async fn missing_user(
    store: &dyn AccountStore,
    users: &[UserId],
) -> Result<Option<String>, ImportError> {
    for &u in users {
        if store.user(u).await?.is_none() {
            return Ok(Some(format!("user {u} was not imported")));
        }
    }
    Ok(None)
}
