//! The checks of the paged lists of [`FriendStore`] and [`GroupStore`]: pages of any size
//! concatenate to the whole list, in its order, with no item twice and none missing.

use std::sync::Arc;

use super::support::{add_users, ok, profile_ids, walk};
use crate::storage::{AccountStore, FriendStore, GroupStore};
use crate::types::{Group, Page, UserId};

/// Page sizes every list is walked with: single items, odd sizes, exactly the whole list, more.
const SIZES: [usize; 6] = [1, 2, 5, 7, 23, 24];

/// A permutation of `0..n`, so that rows are created out of id order.
fn shuffled(n: u64) -> Vec<u64> {
    (0..n).map(|i| (i * 7) % n).collect()
}

/// Friends (by id ascending) and friend requests (newest first, whatever their ids) read page
/// by page, and the friend count.
pub async fn check_friend_pages<S: AccountStore + FriendStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (me, other) = (1, 2);
    let n = 23;
    let people: Vec<UserId> = (0..n).map(|i| 100 + i).collect();
    let mut all = vec![me, other];
    all.extend(&people);
    add_users(s, &all).await;
    // Requests created out of id order; the even ones are accepted. `other` gets some too.
    for i in shuffled(n) {
        let from = people[i as usize];
        ok(
            s.create_friend_request(5000 + i, from, me, "").await,
            "create_friend_request",
        );
        if i % 3 == 0 {
            ok(
                s.create_friend_request(9000 + i, from, other, "").await,
                "create_friend_request",
            );
        }
    }
    for i in (0..n).filter(|i| i % 2 == 0) {
        ok(
            s.answer_friend_request(5000 + i, me, true).await,
            "answer_friend_request",
        );
    }
    let want_friends: Vec<UserId> = (0..n).filter(|i| i % 2 == 0).map(|i| 100 + i).collect();
    let mut want_requests: Vec<u64> = shuffled(n).into_iter().map(|i| 5000 + i).collect();
    want_requests.reverse();

    let count = ok(s.friend_count(me).await, "friend_count");
    assert_eq!(count, want_friends.len() as u64, "friend_count(me)");
    assert_eq!(
        ok(s.friend_count(999).await, "friend_count"),
        0,
        "friend_count(nobody)"
    );
    let whole = profile_ids(&ok(s.friends(me, Page::first(1000)).await, "friends"));
    assert_eq!(whole, want_friends, "friends(me), by id ascending");
    let whole: Vec<u64> = ok(
        s.friend_requests(me, Page::first(1000)).await,
        "friend_requests",
    )
    .iter()
    .map(|r| r.id)
    .collect();
    assert_eq!(
        whole, want_requests,
        "friend_requests(me), by id descending"
    );

    for size in SIZES {
        let got = walk("friends(me)", size, |p| s.friends(me, p), |p| p.id).await;
        assert_eq!(
            profile_ids(&got),
            want_friends,
            "friends(me) in pages of {size}"
        );
        let got = walk(
            "friend_requests(me)",
            size,
            |p| s.friend_requests(me, p),
            |r| r.id,
        )
        .await;
        let ids: Vec<u64> = got.iter().map(|r| r.id).collect();
        assert_eq!(ids, want_requests, "friend_requests(me) in pages of {size}");
    }

    // A page may start after a key that is no longer in the list.
    let gone = want_friends[3];
    ok(s.remove_friend(me, gone).await, "remove_friend");
    let rest = profile_ids(&ok(
        s.friends(me, Page::new(Some(gone), 1000)).await,
        "friends",
    ));
    assert_eq!(
        rest,
        want_friends[4..].to_vec(),
        "friends(me) after a removed friend"
    );
    let key = want_requests[4];
    let rest = ok(
        s.friend_requests(me, Page::new(Some(key), 3)).await,
        "friend_requests",
    );
    let ids: Vec<u64> = rest.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        want_requests[5..8].to_vec(),
        "friend_requests(me) after {key}, limit 3"
    );
    assert_eq!(
        ok(s.friend_count(me).await, "friend_count"),
        want_friends.len() as u64 - 1,
        "friend_count(me) after remove_friend"
    );
}

/// The groups of a user and the members of a group (both by id ascending) read page by page.
pub async fn check_group_pages<S: AccountStore + GroupStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (me, other) = (1, 2);
    let n = 23;
    let people: Vec<UserId> = (0..n).map(|i| 100 + i).collect();
    let mut all = vec![me, other];
    all.extend(&people);
    add_users(s, &all).await;
    // Groups created out of id order; `me` is in all but every fifth.
    for i in shuffled(n) {
        let owner = if i % 5 == 0 { other } else { me };
        ok(
            s.create_group(300 + i, "g", owner, &[]).await,
            "create_group",
        );
    }
    let big = 900;
    let members: Vec<UserId> = shuffled(n)
        .into_iter()
        .map(|i| people[i as usize])
        .collect();
    ok(
        s.create_group(big, "big", me, &members).await,
        "create_group",
    );
    let want_groups: Vec<u64> = (0..n)
        .filter(|i| i % 5 != 0)
        .map(|i| 300 + i)
        .chain([big])
        .collect();
    let mut want_members = people.clone();
    want_members.insert(0, me);

    let group_ids = |v: &[Group]| v.iter().map(|g| g.id).collect::<Vec<_>>();
    let whole = ok(s.groups_of(me, Page::first(1000)).await, "groups_of");
    assert_eq!(
        group_ids(&whole),
        want_groups,
        "groups_of(me), by id ascending"
    );
    let whole = profile_ids(&ok(
        s.group_members(big, Page::first(1000)).await,
        "group_members",
    ));
    assert_eq!(whole, want_members, "group_members(big), by id ascending");

    for size in SIZES {
        let got = walk("groups_of(me)", size, |p| s.groups_of(me, p), |g| g.id).await;
        assert_eq!(
            group_ids(&got),
            want_groups,
            "groups_of(me) in pages of {size}"
        );
        let counts: Vec<u64> = got.iter().map(|g| g.member_count).collect();
        let mut want_counts = vec![1; want_groups.len() - 1];
        want_counts.push(n + 1);
        assert_eq!(counts, want_counts, "groups_of(me): member counts");
        let got = walk(
            "group_members(big)",
            size,
            |p| s.group_members(big, p),
            |p| p.id,
        )
        .await;
        assert_eq!(
            profile_ids(&got),
            want_members,
            "group_members(big) in pages of {size}"
        );
    }

    // A page may start after a key that is no longer in the list.
    let gone = want_members[5];
    ok(s.remove_member(big, gone, &[]).await, "remove_member");
    let rest = ok(
        s.group_members(big, Page::new(Some(gone), 3)).await,
        "group_members",
    );
    assert_eq!(
        profile_ids(&rest),
        want_members[6..9].to_vec(),
        "group_members after a leaver"
    );
    let rest = ok(s.groups_of(me, Page::new(Some(300), 2)).await, "groups_of");
    assert_eq!(
        group_ids(&rest),
        vec![301, 302],
        "groups_of(me) above 300, limit 2"
    );
    let none = ok(s.group_members(999, Page::first(10)).await, "group_members");
    assert!(
        none.is_empty(),
        "group_members of an unknown group: {none:?}"
    );
}
