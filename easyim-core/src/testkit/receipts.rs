//! The checks of [`MessageStore::record_receipt`] and [`MessageStore::history`]: cursors, and
//! the statuses history derives from them.

use std::sync::Arc;

use easyim_proto::MsgStatus;

use super::support::{
    add_users, direct, group_msg, history_seqs, history_status, ids, ok, pending_ids, receipt,
    receipt_none, receipt_some, stored,
};
use crate::storage::{AccountStore, GroupStore, MessageStore};
use crate::types::{Conversation, HistoryPage, Receipt};

/// Receipts: cumulative, `Read` implies `Arrived`, cursors never move back, per user and
/// conversation; `None` (nothing recorded) for unknown ids, own messages, non-members, the
/// wrong conversation.
pub async fn check_receipts<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, d, g) = (1, 2, 3, 4, 100);
    add_users(s, &[a, b, c, d]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let ab = Conversation::direct(a, b);
    let gc = Conversation::Group(g);
    use MsgStatus::{Arrived, Read, Sent};

    for id in ["m1", "m2", "m3", "m4"] {
        stored(s, direct(id, a, b)).await;
    }
    receipt_some(s, b, ab, "m3", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "an ARRIVED receipt for m3 must clear m1..m3 and not m4"
    );
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Arrived), (2, Arrived), (3, Arrived), (4, Sent)],
        "history statuses after ARRIVED m3"
    );
    receipt_some(s, b, ab, "m2", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "an older receipt after a newer one must change nothing"
    );
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Arrived), (2, Arrived), (3, Arrived), (4, Sent)],
        "history statuses after an older ARRIVED"
    );
    receipt_some(s, b, ab, "m2", Receipt::Read).await;
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Read), (2, Read), (3, Arrived), (4, Sent)],
        "history statuses after READ m2"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "pending(b) after READ m2"
    );
    receipt_some(s, b, ab, "m4", Receipt::Read).await;
    assert_eq!(
        pending_ids(s, b).await,
        Vec::<String>::new(),
        "READ implies ARRIVED: READ m4 must clear m4"
    );
    receipt_some(s, b, ab, "m1", Receipt::Arrived).await;
    receipt_some(s, b, ab, "m3", Receipt::Read).await;
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Read), (2, Read), (3, Read), (4, Read)],
        "older receipts must not move the cursors back"
    );

    // Refused receipts record nothing.
    stored(s, direct("n1", b, a)).await; // conv_seq 5, pending for a
    stored(s, direct("m6", a, b)).await; // conv_seq 6
    receipt_none(s, a, ab, "m6", "its own message").await;
    assert_eq!(
        pending_ids(s, a).await,
        ids(&["n1"]),
        "pending(a) after a receipt for its own"
    );
    receipt_none(s, b, ab, "nope", "unknown id").await;
    receipt_none(s, c, ab, "m6", "not a user of the conversation").await;
    stored(s, direct("k1", b, c)).await;
    receipt_none(
        s,
        b,
        Conversation::direct(b, c),
        "m6",
        "the message is in another conversation",
    )
    .await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6"]),
        "pending(b) after refused receipts"
    );

    for id in ["g1", "g2", "g3", "g4"] {
        stored(s, group_msg(id, a, g)).await;
    }
    receipt_none(s, d, gc, "g1", "not a member").await;
    receipt_none(s, a, gc, "g4", "its own group message").await;
    receipt_none(s, b, gc, "m6", "a 1:1 message id in a group").await;
    receipt_some(s, c, gc, "g3", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, c).await,
        ids(&["k1", "g4"]),
        "pending(c): a group receipt clears only its own conversation, up to g3"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6", "g1", "g2", "g3", "g4"]),
        "pending(b): receipts are per user"
    );
    receipt_some(s, b, gc, "g1", Receipt::Read).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6", "g2", "g3", "g4"]),
        "pending(b) after READ g1"
    );
    assert_eq!(
        history_status(s, gc).await,
        vec![(1, Sent), (2, Sent), (3, Sent), (4, Sent)],
        "group history statuses are SENT"
    );
    let m = receipt(s, b, ab, "m6", Receipt::Arrived).await;
    let want = ok(s.history(ab, HistoryPage::Latest, 1).await, "history")
        .pop()
        .map(|h| h.message);
    assert_eq!(m, want, "record_receipt must return the stored message");
}

/// `history`: `Latest` and `Before` newest first, `After` oldest first, `limit`; 1:1 status
/// from the recipient's receipts.
pub async fn check_history<S: AccountStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c) = (1, 2, 3);
    add_users(s, &[a, b, c]).await;
    let ab = Conversation::direct(a, b);
    // Odd conv_seqs from a to b, even ones from b to a.
    for i in 1..=10u64 {
        let (from, to) = if i % 2 == 1 { (a, b) } else { (b, a) };
        stored(s, direct(&format!("h{i}"), from, to)).await;
    }
    stored(s, direct("other", a, c)).await;
    let cases: Vec<(HistoryPage, usize, Vec<u64>)> = vec![
        (HistoryPage::Latest, 3, vec![10, 9, 8]),
        (HistoryPage::Latest, 100, (1..=10).rev().collect()),
        (HistoryPage::Before(5), 2, vec![4, 3]),
        (HistoryPage::Before(5), 10, vec![4, 3, 2, 1]),
        (HistoryPage::Before(1), 10, vec![]),
        (HistoryPage::Before(100), 2, vec![10, 9]),
        (HistoryPage::After(7), 10, vec![8, 9, 10]),
        (HistoryPage::After(2), 3, vec![3, 4, 5]),
        (HistoryPage::After(0), 2, vec![1, 2]),
        (HistoryPage::After(10), 10, vec![]),
    ];
    for (page, limit, want) in cases {
        assert_eq!(
            history_seqs(s, ab, page, limit).await,
            want,
            "history({ab}, {page:?}, limit {limit}): conv_seqs"
        );
    }
    assert_eq!(
        history_seqs(s, Conversation::direct(b, c), HistoryPage::Latest, 10).await,
        Vec::<u64>::new(),
        "history of a conversation without messages"
    );
    let h = ok(s.history(ab, HistoryPage::After(4), 1).await, "history");
    assert_eq!(
        h.first()
            .map(|h| (&h.message.id, h.message.from, h.message.to)),
        Some((&"h5".to_owned(), a, b)),
        "history item 5"
    );

    use MsgStatus::{Arrived, Read, Sent};
    let all_sent: Vec<(u64, MsgStatus)> = (1..=10).map(|i| (i, Sent)).collect();
    assert_eq!(
        history_status(s, ab).await,
        all_sent,
        "statuses with no receipts"
    );
    receipt_some(s, b, ab, "h7", Receipt::Arrived).await;
    receipt_some(s, b, ab, "h5", Receipt::Read).await;
    receipt_some(s, a, ab, "h6", Receipt::Arrived).await;
    let want = vec![
        (1, Read),
        (2, Arrived),
        (3, Read),
        (4, Arrived),
        (5, Read),
        (6, Arrived),
        (7, Arrived),
        (8, Sent),
        (9, Sent),
        (10, Sent),
    ];
    assert_eq!(
        history_status(s, ab).await,
        want,
        "statuses: each message's from its recipient's receipts"
    );
}
