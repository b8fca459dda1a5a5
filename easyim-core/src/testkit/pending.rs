//! The checks of [`MessageStore::pending`]: order, pagination, and group membership.

use std::sync::Arc;

use super::support::{
    add_users, all_pending, direct, group_msg, ids, ok, pending_ids, store, stored,
};
use crate::storage::{AccountStore, GroupStore, MessageStore};

/// `pending`: commit order, per-conversation conv_seq order, exact pagination, never the
/// user's own messages.
pub async fn check_pending<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    assert!(
        ok(s.pending(b, 0, 10).await, "pending").is_empty(),
        "pending of a user without messages"
    );
    stored(s, direct("d1", a, b)).await;
    stored(s, direct("d2", c, b)).await;
    stored(s, group_msg("g1", a, g)).await;
    stored(s, direct("d3", b, a)).await;
    stored(s, direct("d4", a, b)).await;
    stored(s, group_msg("g2", c, g)).await;
    stored(s, group_msg("g3", b, g)).await;
    stored(s, direct("d5", c, b)).await;

    let want_b = ids(&["d1", "d2", "g1", "d4", "g2", "d5"]);
    for page in [1, 2, 3, 5, 6, 7, 100] {
        let got: Vec<String> = all_pending(s, b, page)
            .await
            .into_iter()
            .map(|p| p.message.id)
            .collect();
        assert_eq!(
            got, want_b,
            "pending(b) read in pages of {page}, in commit order"
        );
    }
    assert_eq!(
        pending_ids(s, a).await,
        ids(&["d3", "g2", "g3"]),
        "pending(a)"
    );
    assert_eq!(pending_ids(s, c).await, ids(&["g1", "g3"]), "pending(c)");
    assert_eq!(
        pending_ids(s, 999).await,
        Vec::<String>::new(),
        "pending of an unknown user"
    );
    let all = all_pending(s, b, 100).await;
    let last = all.last().map_or(0, |p| p.order);
    assert!(
        ok(s.pending(b, last, 10).await, "pending").is_empty(),
        "pending(b) after its last order must be empty"
    );
    let from_third = ok(s.pending(b, all[2].order, 2).await, "pending");
    let got: Vec<&str> = from_third.iter().map(|p| p.message.id.as_str()).collect();
    assert_eq!(
        got,
        ["d4", "g2"],
        "pending(b, after the 3rd order, limit 2)"
    );
    let again = all_pending(s, b, 100).await;
    assert_eq!(again, all, "pending must not change by being read");
}

/// Group membership and pending: who joins later does not get earlier messages; who leaves
/// loses the group's pending messages; re-adding a member changes nothing.
pub async fn check_pending_membership<S: AccountStore + GroupStore + MessageStore + ?Sized>(
    s: Arc<S>,
) {
    let s = &*s;
    let (a, b, c, d, g) = (1, 2, 3, 4, 100);
    add_users(s, &[a, b, c, d]).await;
    ok(s.create_group(g, "g", a, &[b]).await, "create_group");
    stored(s, group_msg("g1", a, g)).await;
    stored(s, group_msg("g2", a, g)).await;
    ok(s.add_members(g, &[c]).await, "add_members");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "a member who joined later must not get earlier messages"
    );
    let (_, r) = store(s, group_msg("g3", a, g)).await;
    assert_eq!(r, vec![b, c], "recipients of g3 (after c joined)");
    assert_eq!(pending_ids(s, c).await, ids(&["g3"]), "pending(c) after g3");
    ok(s.remove_member(g, c, &[]).await, "remove_member");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "leaving a group must drop its pending messages"
    );
    let (_, r) = store(s, group_msg("g4", a, g)).await;
    assert_eq!(r, vec![b], "recipients of g4 (after c left)");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "pending(c) after g4"
    );
    ok(s.add_members(g, &[c]).await, "add_members");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "rejoining must not bring back messages"
    );
    stored(s, group_msg("g5", a, g)).await;
    assert_eq!(
        pending_ids(s, c).await,
        ids(&["g5"]),
        "pending(c) after rejoining and g5"
    );
    let b_pending = ids(&["g1", "g2", "g3", "g4", "g5"]);
    assert_eq!(pending_ids(s, b).await, b_pending, "pending(b)");
    ok(s.add_members(g, &[b, d]).await, "add_members");
    assert_eq!(
        pending_ids(s, b).await,
        b_pending,
        "adding a current member again must leave its pending messages as they are"
    );
    assert_eq!(
        pending_ids(s, d).await,
        Vec::<String>::new(),
        "pending(d) after joining"
    );
}
