//! The checks of [`MessageStore::store_message`]: conv_seq, refusals, idempotency, concurrency
//! (on users and groups made with [`AccountStore`] and [`GroupStore`]).

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;

use super::support::{
    add_users, all_pending, direct, group_msg, history_seqs, ids, ok, outcome, pending_ids, store,
    stored, yield_now, T0,
};
use crate::storage::{AccountStore, GroupStore, MessageStore};
use crate::types::{Conversation, HistoryPage, NewMessage, StoreOutcome, UserId};

/// `store_message`: conv_seq 1, 2, 3... per conversation, independently; recipients; fields
/// stored as given.
pub async fn check_conv_seq<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");

    let mut with_ts = direct("m1", a, b);
    with_ts.timestamp = T0 + 12_345;
    with_ts.msg_type = 1;
    let steps: Vec<(NewMessage, u64, Vec<UserId>)> = vec![
        (with_ts, 1, vec![b]),
        (direct("m2", b, a), 2, vec![a]),
        (direct("m3", a, c), 1, vec![c]),
        (group_msg("g1", a, g), 1, vec![b, c]),
        (group_msg("g2", b, g), 2, vec![a, c]),
        (direct("m4", a, b), 3, vec![b]),
        (direct("m5", c, a), 2, vec![a]),
        (group_msg("g3", c, g), 3, vec![a, b]),
    ];
    for (msg, seq, recipients) in steps {
        let id = msg.id.clone();
        let conv = msg.conversation();
        let (m, r) = store(s, msg).await;
        assert_eq!(m.conv_seq, seq, "message {id:?} in {conv}: conv_seq");
        assert_eq!(r, recipients, "message {id:?} in {conv}: recipients");
    }
    let ab = Conversation::direct(a, b);
    let hist = ok(s.history(ab, HistoryPage::After(0), 10).await, "history");
    let got: Vec<(u64, String, i64, i32)> = hist
        .iter()
        .map(|h| {
            let m = &h.message;
            (m.conv_seq, m.id.clone(), m.timestamp, m.msg_type)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "m1".to_owned(), T0 + 12_345, 1),
            (2, "m2".to_owned(), T0, 0),
            (3, "m4".to_owned(), T0, 0)
        ],
        "history of {ab} (conv_seq, id, timestamp, msg_type)"
    );
}

/// `store_message` refusals: `NoUser`, `NoGroup`, `NotMember` (checked before idempotency);
/// none of them writes or uses up a conv_seq. The system (user 0) is never `NotMember`.
pub async fn check_store_rejections<S: AccountStore + GroupStore + MessageStore + ?Sized>(
    s: Arc<S>,
) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[c]).await, "create_group");
    let got = outcome(s, direct("x", a, 999)).await;
    assert_eq!(got, StoreOutcome::NoUser, "message to an unknown user");
    let got = outcome(s, group_msg("x", a, 555)).await;
    assert_eq!(got, StoreOutcome::NoGroup, "message to an unknown group");
    let got = outcome(s, group_msg("x", b, g)).await;
    assert_eq!(
        got,
        StoreOutcome::NotMember,
        "group message from a non-member"
    );
    let m = stored(s, group_msg("c1", c, g)).await;
    assert_eq!(
        m.conv_seq, 1,
        "first group message after refusals: conv_seq"
    );
    ok(s.remove_member(g, c, &[]).await, "remove_member");
    let got = outcome(s, group_msg("c1", c, g)).await;
    assert_eq!(
        got,
        StoreOutcome::NotMember,
        "a resend from a member who left must be NotMember (membership is checked before \
         idempotency)"
    );
    let m = stored(s, group_msg("a1", a, g)).await;
    assert_eq!(m.conv_seq, 2, "group message after refusals: conv_seq");
    assert_eq!(
        pending_ids(s, b).await,
        Vec::<String>::new(),
        "refused messages must not be pending"
    );
    // The system is no member of any group, yet writes to every group: to all its members.
    match outcome(s, group_msg("sys", crate::SYSTEM_USER, g)).await {
        StoreOutcome::Stored {
            message,
            recipients,
        } => {
            assert_eq!(message.conv_seq, 3, "the system's group message: conv_seq");
            assert_eq!(
                recipients,
                vec![a],
                "the system's group message: every member"
            );
        }
        other => panic!("a group message from the system (user 0): {other:?}"),
    }
}

/// Idempotency: `Duplicate` returns the stored message and writes nothing; `IdTaken`; the
/// same id in another conversation is a new message.
pub async fn check_idempotency<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let ab = Conversation::direct(a, b);

    let mut first = direct("x", a, b);
    first.timestamp = T0 + 1;
    let x = stored(s, first).await;
    let mut resend = direct("x", a, b);
    resend.timestamp = T0 + 999;
    resend.content = "changed".to_owned();
    for round in 0..2 {
        let got = outcome(s, resend.clone()).await;
        assert_eq!(
            got,
            StoreOutcome::Duplicate(x.clone()),
            "resend #{round} of \"x\" by its sender: want Duplicate of the stored message (same \
             conv_seq, timestamp, content)"
        );
    }
    assert_eq!(
        history_seqs(s, ab, HistoryPage::Latest, 100).await,
        vec![1],
        "a Duplicate must write nothing"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["x"]),
        "a Duplicate must not be pending twice"
    );
    let y = stored(s, direct("y", a, b)).await;
    assert_eq!(y.conv_seq, 2, "a Duplicate must not use up a conv_seq");
    let got = outcome(s, direct("x", b, a)).await;
    assert_eq!(
        got,
        StoreOutcome::IdTaken,
        "the peer reusing \"x\" in the same conversation"
    );
    let z = stored(s, direct("z", b, a)).await;
    assert_eq!(z.conv_seq, 3, "IdTaken must not use up a conv_seq");

    let xc = stored(s, direct("x", a, c)).await;
    assert_eq!(
        xc.conv_seq, 1,
        "the same id in another 1:1 conversation is a new message"
    );
    let xg = stored(s, group_msg("x", a, g)).await;
    assert_eq!(xg.conv_seq, 1, "the same id in a group is a new message");
    let got = outcome(s, group_msg("x", b, g)).await;
    assert_eq!(
        got,
        StoreOutcome::IdTaken,
        "another member reusing \"x\" in the group"
    );
    let got = outcome(s, group_msg("x", a, g)).await;
    assert_eq!(
        got,
        StoreOutcome::Duplicate(xg),
        "resend of \"x\" to the group"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["x", "y", "x"]),
        "pending for b: \"x\" and \"y\" of {ab}, then \"x\" of the group"
    );
    assert_eq!(pending_ids(s, c).await, ids(&["x", "x"]), "pending for c");
}

/// Gapless, unique conv_seq under concurrent writers, in one group and one 1:1 conversation
/// at once; each writer's messages numbered in its send order.
pub async fn check_concurrent_conv_seq<S: AccountStore + GroupStore + MessageStore + ?Sized>(
    s: Arc<S>,
) {
    const WRITERS: usize = 8;
    const EACH: usize = 50;
    let members: [UserId; 4] = [1, 2, 3, 4];
    let g = 100;
    add_users(&*s, &members).await;
    ok(s.create_group(g, "busy", 1, &members).await, "create_group");

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        for to_group in [true, false] {
            let s = Arc::clone(&s);
            writers.push(async move {
                let mut seqs = Vec::with_capacity(EACH);
                for i in 0..EACH {
                    let msg = if to_group {
                        group_msg(&format!("g-{w}-{i}"), members[w % 4], g)
                    } else {
                        let (from, to) = if w % 2 == 0 { (1, 2) } else { (2, 1) };
                        direct(&format!("d-{w}-{i}"), from, to)
                    };
                    let (m, recipients) = store(&*s, msg).await;
                    // Let the other writers in between, even on a backend that never waits.
                    yield_now().await;
                    if to_group {
                        let want: Vec<UserId> =
                            members.iter().copied().filter(|&u| u != m.from).collect();
                        assert_eq!(recipients, want, "recipients of group message {:?}", m.id);
                    }
                    seqs.push((m.id, m.conv_seq));
                }
                (w, to_group, seqs)
            });
        }
    }
    let results = join_all(writers).await;

    let total = (WRITERS * EACH) as u64;
    for to_group in [true, false] {
        let conv = if to_group {
            Conversation::Group(g)
        } else {
            Conversation::direct(1, 2)
        };
        let mut by_id: HashMap<String, u64> = HashMap::new();
        for (w, _, seqs) in results.iter().filter(|r| r.1 == to_group) {
            for pair in seqs.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "{conv}: writer {w} sent {:?} before {:?} but got conv_seq {} then {}",
                    pair[0].0,
                    pair[1].0,
                    pair[0].1,
                    pair[1].1
                );
            }
            by_id.extend(seqs.iter().cloned());
        }
        let mut all: Vec<u64> = by_id.values().copied().collect();
        all.sort_unstable();
        let want: Vec<u64> = (1..=total).collect();
        if all != want {
            let dups = all.windows(2).filter(|p| p[0] == p[1]).count();
            panic!(
                "{conv}: {total} concurrent messages must get conv_seq exactly 1..={total}; got \
                 {} values from {:?} to {:?}, {dups} duplicated",
                all.len(),
                all.first(),
                all.last()
            );
        }
        // The history must agree with what the writers were told.
        let mut after = 0;
        let mut seen = 0;
        loop {
            let page = ok(
                s.history(conv, HistoryPage::After(after), 64).await,
                "history",
            );
            let Some(last) = page.last() else { break };
            for h in &page {
                seen += 1;
                assert_eq!(
                    h.message.conv_seq, seen,
                    "{conv}: history After({after}) out of order"
                );
                assert_eq!(
                    by_id.get(&h.message.id),
                    Some(&h.message.conv_seq),
                    "{conv}: history has {:?} at conv_seq {}, the writer was told otherwise",
                    h.message.id,
                    h.message.conv_seq
                );
            }
            after = last.message.conv_seq;
        }
        assert_eq!(
            seen, total,
            "{conv}: history holds {seen} messages, want {total}"
        );
    }

    // user 3 writes to the group as writers 2 and 6; user 2 gets every 1:1 message from 1
    // (even writers) and the group messages not its own (writers 1 and 5 are its own).
    let per = EACH;
    for (user, want) in [(3, 6 * per), (2, 4 * per + 6 * per), (4, 6 * per)] {
        let got = all_pending(&*s, user, 37).await.len();
        assert_eq!(
            got, want,
            "pending({user}) after the concurrent writes: count"
        );
    }
}
