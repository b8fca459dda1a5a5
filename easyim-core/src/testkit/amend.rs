//! The checks of `ref_id`, RECALL and EDIT in [`MessageStore`]: the reference kept, the target
//! changed in the same step, [`MessageStore::message`] and every reader seeing the same state.

use std::sync::Arc;

use easyim_proto::{ChatType, MsgType};

use super::support::{add_users, all_pending, direct, group_msg, ok, outcome, stored};
use crate::storage::{AccountStore, GroupStore, MessageStore};
use crate::types::{Conversation, HistoryPage, NewMessage, StoreOutcome, StoredMessage};

fn amend(kind: MsgType, id: &str, from: u64, to: u64, chat: ChatType, target: &str) -> NewMessage {
    NewMessage {
        msg_type: kind as i32,
        content: if kind == MsgType::Edit {
            format!("edited by {id}")
        } else {
            String::new()
        },
        ref_id: target.to_owned(),
        timestamp: super::support::T0 + 1_000,
        ..super::support::new_msg(chat, id, from, to)
    }
}

async fn message<S: MessageStore + ?Sized>(s: &S, conv: Conversation, id: &str) -> StoredMessage {
    let what = format!("message({conv}, {id:?})");
    ok(s.message(conv, id).await, &what).unwrap_or_else(|| panic!("{what}: want Some, got None"))
}

async fn in_history<S: MessageStore + ?Sized>(
    s: &S,
    conv: Conversation,
    id: &str,
) -> StoredMessage {
    let page = ok(s.history(conv, HistoryPage::Latest, 200).await, "history");
    page.into_iter()
        .map(|i| i.message)
        .find(|m| m.id == id)
        .unwrap_or_else(|| panic!("history of {conv}: {id:?} missing"))
}

/// A reply keeps its `ref_id`; a RECALL and an EDIT are messages of their conversation (own
/// `conv_seq`, pending, idempotent) and change their target in the same step, as
/// `message`, `history` and `pending` all show; an edit of a recalled message changes nothing;
/// `message` is `None` for an unknown id or another conversation's.
pub async fn check_amend<S: AccountStore + GroupStore + MessageStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let ab = Conversation::direct(a, b);
    let gc = Conversation::Group(g);

    let m1 = stored(s, direct("m1", a, b)).await;
    assert_eq!(
        message(s, ab, "m1").await,
        m1,
        "message() of a fresh message"
    );
    assert!(
        !m1.recalled && m1.edited_at == 0,
        "a fresh message is not amended"
    );
    let reply = NewMessage {
        ref_id: "m1".into(),
        ..direct("r1", b, a)
    };
    let r1 = stored(s, reply).await;
    assert_eq!(r1.ref_id, "m1", "the stored reply keeps its ref_id");
    assert_eq!(
        in_history(s, ab, "r1").await.ref_id,
        "m1",
        "history keeps ref_id"
    );

    let edit = amend(MsgType::Edit, "e1", a, b, ChatType::Single, "m1");
    let e1 = stored(s, edit.clone()).await;
    assert_eq!(
        (e1.conv_seq, e1.ref_id.as_str()),
        (3, "m1"),
        "an EDIT is message 3"
    );
    for (what, m) in [
        ("message()", message(s, ab, "m1").await),
        ("history", in_history(s, ab, "m1").await),
    ] {
        assert_eq!(m.content, "edited by e1", "{what}: the edited content");
        assert_eq!(
            m.edited_at, edit.timestamp,
            "{what}: edited_at is the edit's timestamp"
        );
        assert!(!m.recalled, "{what}: not recalled");
        assert_eq!(m.conv_seq, 1, "{what}: the target keeps its conv_seq");
    }
    let pending = all_pending(s, b, 100).await;
    let got: Vec<(&str, &str)> = pending
        .iter()
        .map(|p| (p.message.id.as_str(), p.message.content.as_str()))
        .collect();
    assert_eq!(
        got,
        [("m1", "edited by e1"), ("e1", "edited by e1")],
        "pending for b: the target in its latest state, then the EDIT in conv_seq order"
    );
    // A resend of the edit is a duplicate and changes nothing more.
    let again = amend(MsgType::Edit, "e1", a, b, ChatType::Single, "m1");
    assert!(
        matches!(outcome(s, again).await, StoreOutcome::Duplicate(_)),
        "a resent EDIT is a Duplicate"
    );

    let recall = amend(MsgType::Recall, "x1", a, b, ChatType::Single, "m1");
    stored(s, recall).await;
    let late_edit = amend(MsgType::Edit, "e2", a, b, ChatType::Single, "m1");
    stored(s, late_edit).await;
    for (what, m) in [
        ("message()", message(s, ab, "m1").await),
        ("history", in_history(s, ab, "m1").await),
    ] {
        assert!(m.recalled, "{what}: recalled");
        assert_eq!(m.content, "", "{what}: a recalled message has no content");
    }

    // Groups, and the target looked up in its own conversation only.
    stored(s, group_msg("g1", b, g)).await;
    stored(s, amend(MsgType::Recall, "gx", a, g, ChatType::Group, "g1")).await;
    let g1 = message(s, gc, "g1").await;
    assert!(
        g1.recalled && g1.content.is_empty(),
        "a group message recalled"
    );
    assert_eq!(
        ok(s.message(gc, "m1").await, "message"),
        None,
        "m1 is not in the group"
    );
    assert_eq!(
        ok(s.message(ab, "nope").await, "message"),
        None,
        "unknown id"
    );
    let ac = Conversation::direct(a, c);
    assert_eq!(
        ok(s.message(ac, "m1").await, "message"),
        None,
        "unknown conversation"
    );
    // A RECALL naming no message of its conversation is stored and changes nothing.
    stored(
        s,
        amend(MsgType::Recall, "x9", a, c, ChatType::Single, "m1"),
    )
    .await;
    assert!(
        message(s, ab, "m1").await.recalled,
        "still recalled, untouched"
    );
    assert_eq!(
        message(s, ab, "r1").await.content,
        r1.content,
        "r1 untouched"
    );
}
