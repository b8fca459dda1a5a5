//! The checks of delete for me in [`MessageStore`]: [`MessageStore::hide_messages`] counts
//! only messages of the conversation newly removed, for that user alone, and
//! [`MessageStore::hidden_seqs`] tells which positions a user removed.

use std::sync::Arc;

use super::support::{add_users, direct, group_msg, ok, stored};
use crate::storage::{AccountStore, GroupStore, MessageStore};
use crate::types::Conversation;

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Hiding is per user and per conversation, idempotent, ignores unknown ids, and is seen by
/// `hidden_seqs` (ascending, only the positions asked about).
pub async fn check_hidden<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b]).await, "create_group");
    let ab = Conversation::direct(a, b);
    let gc = Conversation::Group(g);
    for id in ["m1", "m2", "m3"] {
        stored(s, direct(id, a, b)).await;
    }
    stored(s, group_msg("g1", a, g)).await;

    let n = ok(
        s.hide_messages(a, ab, &ids(&["m3", "m1", "nope", "g1"]))
            .await,
        "hide_messages",
    );
    assert_eq!(
        n, 2,
        "m1 and m3 removed; an unknown id and another conversation's ignored"
    );
    let again = ok(
        s.hide_messages(a, ab, &ids(&["m1", "m2"])).await,
        "hide again",
    );
    assert_eq!(again, 1, "m1 was removed already: only m2 counts");
    assert_eq!(
        ok(s.hidden_seqs(a, ab, &[3, 2, 1, 9]).await, "hidden_seqs"),
        [1, 2, 3],
        "ascending, only existing positions"
    );
    assert_eq!(
        ok(s.hidden_seqs(b, ab, &[1, 2, 3]).await, "hidden_seqs of b"),
        Vec::<u64>::new(),
        "b keeps every message"
    );
    assert_eq!(
        ok(s.hidden_seqs(a, gc, &[1]).await, "hidden_seqs in the group"),
        Vec::<u64>::new(),
        "the group's message 1 is another conversation's"
    );
    assert_eq!(
        ok(s.hidden_seqs(a, ab, &[]).await, "no positions"),
        Vec::<u64>::new()
    );
    let none = Conversation::direct(a, c);
    assert_eq!(
        ok(
            s.hide_messages(a, none, &ids(&["m1"])).await,
            "hide in an empty conversation"
        ),
        0
    );
    assert_eq!(
        ok(s.hide_messages(b, gc, &ids(&["g1"])).await, "b hides g1"),
        1
    );
    assert_eq!(ok(s.hidden_seqs(b, gc, &[1]).await, "g1 hidden for b"), [1]);
    assert_eq!(
        ok(
            s.hidden_among(b, &[(ab, 1), (gc, 1), (none, 1), (gc, 2)])
                .await,
            "hidden_among of b"
        ),
        [false, true, false, false],
        "one answer per position asked, in order"
    );
    assert_eq!(
        ok(
            s.hidden_among(a, &[(gc, 1), (ab, 3), (ab, 4)]).await,
            "hidden_among of a"
        ),
        [false, true, false]
    );
    assert_eq!(
        ok(s.hidden_among(a, &[]).await, "nothing asked"),
        Vec::<bool>::new()
    );
    // The messages stay stored: the history itself is unchanged.
    let page = ok(
        s.history(ab, crate::types::HistoryPage::Latest, 10).await,
        "history",
    );
    assert_eq!(
        page.len(),
        3,
        "storage's history is everyone's: nothing deleted"
    );
}
