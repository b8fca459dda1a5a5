//! The checks of the part of [`ModerationStore`] between users: blocks and friend remarks (on
//! users made with [`AccountStore`], friends with [`FriendStore`]).

use std::sync::Arc;

use super::support::{add_users, expect_err, ok, profile_ids};
use crate::error::{Entity, StorageError};
use crate::relation::Relation;
use crate::storage::{AccountStore, FriendStore, ModerationStore};
use crate::types::{Page, UserId};

/// Blocks: one direction only, idempotent, listed in pages, lifted; and the relation the send
/// path reads (blocked, friends).
pub async fn check_blocks<S>(s: Arc<S>)
where
    S: AccountStore + FriendStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b, c, d) = (1, 2, 3, 4);
    add_users(s, &[a, b, c, d]).await;
    let relation = |from, to| async move { ok(s.relation(from, to).await, "relation") };
    assert_eq!(relation(b, a).await, Relation::default(), "strangers");
    ok(s.block_user(a, b).await, "block_user");
    ok(s.block_user(a, b).await, "block_user twice");
    ok(s.block_user(a, d).await, "block_user");
    assert!(
        relation(b, a).await.blocked,
        "a blocked b: b to a is blocked"
    );
    assert!(!relation(a, b).await.blocked, "a blocked b: a to b is not");
    expect_err(
        s.block_user(a, 999).await,
        StorageError::NotFound(Entity::User),
        "block_user(unknown user)",
    );
    let blocked = |page: Page| async move {
        profile_ids(&ok(s.blocked_users(a, page).await, "blocked_users"))
    };
    assert_eq!(blocked(Page::first(10)).await, vec![b, d], "blocked_users");
    assert_eq!(
        blocked(Page::first(1)).await,
        vec![b],
        "blocked_users, limit 1"
    );
    assert_eq!(
        blocked(Page::new(Some(b), 10)).await,
        vec![d],
        "blocked_users after b"
    );
    ok(s.unblock_user(a, b).await, "unblock_user");
    ok(
        s.unblock_user(a, c).await,
        "unblock_user of a user not blocked",
    );
    assert!(!relation(b, a).await.blocked, "unblocked");
    assert_eq!(
        blocked(Page::first(10)).await,
        vec![d],
        "blocked_users after unblock"
    );

    let request = ok(
        s.create_friend_request(50, c, a, "hi").await,
        "create_friend_request",
    );
    ok(
        s.answer_friend_request(request.id, a, true).await,
        "answer_friend_request",
    );
    assert_eq!(
        (relation(c, a).await.friends, relation(a, c).await.friends),
        (true, true),
        "friends both ways"
    );
    assert!(!relation(b, a).await.friends, "not friends");
}

/// Friend remarks: set, read, cleared, one direction only, gone with the friendship.
pub async fn check_friend_remarks<S>(s: Arc<S>)
where
    S: AccountStore + FriendStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b, c) = (1, 2, 3);
    add_users(s, &[a, b, c]).await;
    let request = ok(
        s.create_friend_request(50, a, b, "").await,
        "create_friend_request",
    );
    ok(
        s.answer_friend_request(request.id, b, true).await,
        "answer_friend_request",
    );
    let remarks =
        |u, of: Vec<UserId>| async move { ok(s.friend_remarks(u, &of).await, "friend_remarks") };
    assert!(remarks(a, vec![b]).await.is_empty(), "no remark yet");
    ok(
        s.set_friend_remark(a, b, "Bobby").await,
        "set_friend_remark",
    );
    assert_eq!(
        remarks(a, vec![c, b]).await,
        vec![(b, "Bobby".to_owned())],
        "a's remark"
    );
    assert!(remarks(b, vec![a]).await.is_empty(), "one direction only");
    expect_err(
        s.set_friend_remark(a, c, "x").await,
        StorageError::NotFound(Entity::Friend),
        "set_friend_remark(not a friend)",
    );
    ok(
        s.set_friend_remark(a, b, "").await,
        "set_friend_remark(empty)",
    );
    assert!(remarks(a, vec![b]).await.is_empty(), "cleared");
    ok(s.set_friend_remark(a, b, "B").await, "set_friend_remark");
    ok(s.remove_friend(a, b).await, "remove_friend");
    let again = ok(
        s.create_friend_request(51, a, b, "").await,
        "create_friend_request",
    );
    ok(
        s.answer_friend_request(again.id, b, true).await,
        "answer_friend_request",
    );
    assert!(
        remarks(a, vec![b]).await.is_empty(),
        "the remark went with the friendship"
    );
}
