//! The checks of the [`GroupCaps`] of [`GroupStore`]: member and membership caps, all or
//! nothing, and never overshot by concurrent joins.

use std::sync::Arc;

use futures::future::join_all;

use super::support::{add_users, expect_err, ok};
use crate::error::{Conflict, Entity, StorageError};
use crate::storage::{AccountStore, GroupStore};
use crate::types::{GroupCaps, GroupId, Page, UserId};

fn caps(max_members: u64, max_groups_per_user: u64) -> GroupCaps {
    GroupCaps {
        max_members,
        max_groups_per_user,
    }
}

/// `create_group_within` and `add_members_within` refuse to go past either cap, change nothing
/// when they refuse, and count current members and duplicates once.
pub async fn check_group_caps<S: AccountStore + GroupStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    add_users(s, &[1, 2, 3, 4, 5, 6, 7]).await;
    let full = StorageError::Conflict(Conflict::GroupFull);
    let too_many = StorageError::Conflict(Conflict::TooManyGroups);
    let count = |g: GroupId| async move { ok(s.group(g).await, "group").map(|g| g.member_count) };
    let member = |g: GroupId, u: UserId| async move { ok(s.is_member(g, u).await, "is_member") };

    let three = caps(3, u64::MAX);
    expect_err(
        s.create_group_within(100, "g", 1, &[2, 3, 4], three, &[])
            .await,
        full.clone(),
        "create_group_within: 4 members, at most 3",
    );
    assert_eq!(
        count(100).await,
        None,
        "a group refused as too big must not exist"
    );
    let g = ok(
        s.create_group_within(100, "g", 1, &[2, 3, 3, 1], three, &[])
            .await,
        "create_group_within: 3 members (duplicates once), at most 3",
    );
    assert_eq!(g.member_count, 3, "member_count at the cap");
    expect_err(
        s.add_members_within(100, &[4], three, &[]).await,
        full.clone(),
        "add_members_within past max_members",
    );
    assert!(
        !member(100, 4).await,
        "a refused add_members_within adds nobody"
    );
    ok(
        s.add_members_within(100, &[2, 3], three, &[]).await,
        "add_members_within of current members: they count for nothing",
    );
    let four = caps(4, u64::MAX);
    expect_err(
        s.add_members_within(100, &[4, 5], four, &[]).await,
        full.clone(),
        "add_members_within of 2 into 1 free place",
    );
    assert!(!member(100, 4).await, "all or nothing: 4 must not be added");
    ok(
        s.add_members_within(100, &[4, 4], four, &[]).await,
        "add_members_within: a duplicate counts once",
    );
    assert_eq!(
        count(100).await,
        Some(4),
        "member_count after filling the group"
    );
    expect_err(
        s.add_members_within(999, &[5], four, &[]).await,
        StorageError::NotFound(Entity::Group),
        "add_members_within of an unknown group",
    );

    // 5 is in groups 200 and 201: at the cap of 2.
    let two = caps(u64::MAX, 2);
    ok(
        s.create_group_within(200, "g", 5, &[], two, &[]).await,
        "first group of 5",
    );
    ok(
        s.create_group_within(201, "g", 6, &[5], two, &[]).await,
        "second group of 5",
    );
    expect_err(
        s.create_group_within(202, "g", 5, &[], two, &[]).await,
        too_many.clone(),
        "creating a third group",
    );
    expect_err(
        s.create_group_within(203, "g", 7, &[5], two, &[]).await,
        too_many.clone(),
        "being made a member of a third group",
    );
    assert_eq!(
        count(203).await,
        None,
        "a group refused for a member must not exist"
    );
    expect_err(
        s.add_members_within(100, &[5], caps(10, 2), &[]).await,
        too_many.clone(),
        "joining a third group",
    );
    assert!(!member(100, 5).await, "a refused join adds nobody");
    ok(
        s.add_members_within(200, &[5], two, &[]).await,
        "re-adding 5 where it is a member",
    );
    ok(s.remove_member(200, 5, &[]).await, "remove_member");
    ok(
        s.add_members_within(100, &[5], caps(10, 2), &[]).await,
        "joining after leaving one",
    );
    let of_5 = ok(s.groups_of(5, Page::first(10)).await, "groups_of");
    assert_eq!(of_5.len(), 2, "groups_of(5) at the end: {of_5:?}");
}

/// Concurrent joins never take a group past `max_members`, nor a user past
/// `max_groups_per_user`: exactly as many succeed as there is room for.
pub async fn check_concurrent_caps<S: AccountStore + GroupStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let joiners: Vec<UserId> = (10..30).collect();
    let mut users = vec![1, 2];
    users.extend(&joiners);
    add_users(s, &users).await;

    ok(s.create_group(100, "g", 1, &[]).await, "create_group");
    let room = caps(5, u64::MAX);
    let joins = joiners
        .iter()
        .map(|&u| async move { s.add_members_within(100, &[u], room, &[]).await });
    let results = join_all(joins).await;
    let joined = results.iter().filter(|r| r.is_ok()).count();
    for r in &results {
        if let Err(e) = r {
            assert!(
                e.same_kind(&StorageError::Conflict(Conflict::GroupFull)),
                "a concurrent join past the cap: want GroupFull, got {e:?}"
            );
        }
    }
    assert_eq!(joined, 4, "concurrent joins into 4 free places");
    let n = ok(s.group(100).await, "group").map(|g| g.member_count);
    assert_eq!(n, Some(5), "member_count after concurrent joins");

    let groups: Vec<GroupId> = (200..220).collect();
    for &g in &groups {
        ok(s.create_group(g, "g", 1, &[]).await, "create_group");
    }
    let three = caps(u64::MAX, 3);
    let joins = groups
        .iter()
        .map(|&g| async move { s.add_members_within(g, &[2], three, &[]).await });
    let joined = join_all(joins).await.iter().filter(|r| r.is_ok()).count();
    assert_eq!(joined, 3, "concurrent joins of one user, at most 3 groups");
    let of_2 = ok(s.groups_of(2, Page::first(100)).await, "groups_of");
    assert_eq!(of_2.len(), 3, "groups_of(2) after concurrent joins");
}
