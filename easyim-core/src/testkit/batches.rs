//! The check of [`MessageStore::store_messages`]: a batch is stored exactly as its messages
//! one after the other, whatever mix of outcomes it holds.

use std::sync::Arc;

use super::support::{add_users, direct, group_msg, history_seqs, ids, ok, pending_ids, stored};
use crate::storage::{AccountStore, GroupStore, MessageStore};
use crate::types::{Conversation, HistoryPage, StoreOutcome};

/// One batch with every outcome: new messages in three conversations (one of them new), a
/// resend of a stored message, an id repeated within the batch by its sender (a duplicate of
/// its first occurrence, content and all) and by the peer (taken), an unknown recipient and a
/// non-member. Then what is stored and pending is exactly what the outcomes say.
pub async fn check_store_batches<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b]).await, "create_group");
    let x = stored(s, direct("x", a, b)).await;

    let mut repeat = direct("y", a, b);
    repeat.content = "the same id again".to_owned();
    let batch = vec![
        direct("y", a, b),
        direct("x", a, b),
        repeat,
        direct("y", b, a),
        group_msg("y", a, g),
        direct("z", a, 999),
        group_msg("w", c, g),
        group_msg("q", a, 555),
        direct("v", a, c),
        group_msg("u", b, g),
    ];
    let out = ok(s.store_messages(batch).await, "store_messages");
    assert_eq!(out.len(), 10, "one outcome per message: {out:?}");
    let seq = |o: &StoreOutcome| match o {
        StoreOutcome::Stored { message, .. } => (message.id.clone(), message.conv_seq),
        other => panic!("want Stored, got {other:?}"),
    };
    assert_eq!(
        seq(&out[0]),
        ("y".to_owned(), 2),
        "a new message after \"x\""
    );
    assert_eq!(
        out[1],
        StoreOutcome::Duplicate(x),
        "the resend of a stored message"
    );
    match &out[2] {
        StoreOutcome::Duplicate(m) => assert_eq!(
            (m.id.as_str(), m.conv_seq, m.content.as_str()),
            ("y", 2, "content of y"),
            "a repeat within the batch is a duplicate of its first occurrence"
        ),
        other => panic!("want Duplicate of \"y\", got {other:?}"),
    }
    assert_eq!(
        out[3],
        StoreOutcome::IdTaken,
        "the peer reusing \"y\" in the batch"
    );
    assert_eq!(
        seq(&out[4]),
        ("y".to_owned(), 1),
        "the same id in the group is new"
    );
    match &out[4] {
        StoreOutcome::Stored { recipients, .. } => assert_eq!(recipients, &vec![b]),
        _ => unreachable!(),
    }
    assert_eq!(out[5], StoreOutcome::NoUser);
    assert_eq!(out[6], StoreOutcome::NotMember);
    assert_eq!(out[7], StoreOutcome::NoGroup);
    assert_eq!(
        seq(&out[8]),
        ("v".to_owned(), 1),
        "the first message of a new conversation"
    );
    assert_eq!(
        seq(&out[9]),
        ("u".to_owned(), 2),
        "the group's second message"
    );
    match &out[9] {
        StoreOutcome::Stored { recipients, .. } => assert_eq!(recipients, &vec![a]),
        _ => unreachable!(),
    }

    assert_eq!(
        history_seqs(s, Conversation::direct(a, b), HistoryPage::Latest, 10).await,
        vec![2, 1],
        "the 1:1 conversation holds \"x\" and one \"y\""
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["x", "y", "y"]),
        "pending for b"
    );
    assert_eq!(pending_ids(s, c).await, ids(&["v"]), "pending for c");
    assert_eq!(pending_ids(s, a).await, ids(&["u"]), "pending for a");
}
