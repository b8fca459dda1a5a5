//! The checks of [`GroupStore`] (on users made with [`AccountStore`]).

use std::sync::Arc;

use super::support::{add_users, expect_err, ok, profile_ids, test_user};
use crate::error::{Entity, StorageError};
use crate::storage::{AccountStore, GroupStore};
use crate::types::{GroupId, Page, UserId};

/// Groups: creation (owner included, duplicates ignored, all or nothing), members, lookups.
pub async fn check_groups<S: AccountStore + GroupStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, d) = (1, 2, 3, 4);
    add_users(s, &[a, b, c, d]).await;
    let group_ids = |u: UserId| async move {
        ok(s.groups_of(u, Page::first(1000)).await, "groups_of")
            .into_iter()
            .map(|g| g.id)
            .collect::<Vec<_>>()
    };
    let members = |g: GroupId| async move {
        profile_ids(&ok(
            s.group_members(g, Page::first(1000)).await,
            "group_members",
        ))
    };
    let count = |g: GroupId| async move { ok(s.group(g).await, "group").map(|g| g.member_count) };

    let g = ok(
        s.create_group(100, "team", a, &[b, b, a, c]).await,
        "create_group",
    );
    assert_eq!(
        (g.id, g.name.as_str(), g.owner, g.member_count),
        (100, "team", a, 3),
        "create_group(100, owner a, members [b, b, a, c]): (id, name, owner, member_count)"
    );
    assert_eq!(ok(s.group(100).await, "group"), Some(g), "group(100)");
    assert_eq!(ok(s.group(999).await, "group"), None, "group(999)");
    assert_eq!(members(100).await, vec![a, b, c], "group_members(100)");
    assert_eq!(
        ok(
            s.group_members(100, Page::first(1000)).await,
            "group_members"
        )[0],
        test_user(a, "u1").profile(),
        "group_members: profiles"
    );
    for (u, want) in [(a, true), (b, true), (c, true), (d, false)] {
        assert_eq!(
            ok(s.is_member(100, u).await, "is_member"),
            want,
            "is_member(100, {u})"
        );
    }
    assert!(
        !ok(s.is_member(999, a).await, "is_member"),
        "is_member of an unknown group"
    );

    expect_err(
        s.create_group(101, "bad", a, &[b, 999]).await,
        StorageError::NotFound(Entity::User),
        "create_group with an unknown member",
    );
    assert_eq!(
        ok(s.group(101).await, "group"),
        None,
        "a refused group must not exist"
    );
    assert_eq!(
        members(101).await,
        Vec::<UserId>::new(),
        "group_members of a refused group"
    );
    assert_eq!(
        group_ids(a).await,
        vec![100],
        "groups_of(a) after a refused create_group"
    );

    let h = ok(s.create_group(102, "solo", b, &[]).await, "create_group");
    assert_eq!(h.member_count, 1, "a group with only its owner");
    assert_eq!(group_ids(b).await, vec![100, 102], "groups_of(b), by id");
    assert_eq!(group_ids(d).await, Vec::<GroupId>::new(), "groups_of(d)");

    expect_err(
        s.add_members(100, &[d, 999]).await,
        StorageError::NotFound(Entity::User),
        "add_members with an unknown user",
    );
    assert!(
        !ok(s.is_member(100, d).await, "is_member"),
        "a refused add_members must add nobody"
    );
    assert_eq!(
        count(100).await,
        Some(3),
        "member_count after a refused add_members"
    );
    expect_err(
        s.add_members(999, &[d]).await,
        StorageError::NotFound(Entity::Group),
        "add_members to an unknown group",
    );
    ok(s.add_members(100, &[d, b, d]).await, "add_members");
    assert_eq!(
        count(100).await,
        Some(4),
        "member_count after adding d (and b again)"
    );
    assert_eq!(
        members(100).await,
        vec![a, b, c, d],
        "group_members after add_members"
    );

    ok(s.remove_member(100, c, &[]).await, "remove_member");
    assert_eq!(
        count(100).await,
        Some(3),
        "member_count after remove_member"
    );
    assert!(
        !ok(s.is_member(100, c).await, "is_member"),
        "is_member after leaving"
    );
    assert_eq!(
        group_ids(c).await,
        Vec::<GroupId>::new(),
        "groups_of(c) after leaving"
    );
    expect_err(
        s.remove_member(100, c, &[]).await,
        StorageError::NotFound(Entity::Member),
        "removing a non-member",
    );
    expect_err(
        s.remove_member(999, a, &[]).await,
        StorageError::NotFound(Entity::Group),
        "removing from an unknown group",
    );
    assert_eq!(
        members(100).await,
        vec![a, b, d],
        "group_members at the end"
    );
    let groups = ok(s.groups_of(a, Page::first(1000)).await, "groups_of");
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.id, g.member_count))
            .collect::<Vec<_>>(),
        vec![(100, 3)],
        "groups_of(a) with member counts"
    );
}
