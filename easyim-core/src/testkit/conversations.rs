//! The checks of [`ConversationStore`] and [`MessageStore::record_read`]: unread counts (own
//! messages, late joiners), read positions that never move back, settings, hiding, and paging
//! with a cursor while messages arrive.

use std::collections::HashSet;
use std::sync::Arc;

use super::support::{add_users, direct, group_msg, ok, stored, T0};
use crate::read::{ReadAt, ReadOutcome, ReadState};
use crate::storage::{AccountStore, ConversationStore, GroupStore, MessageStore};
use crate::summary::{ConversationCursor, ConversationSummary, SettingsChange};
use crate::types::{Conversation, NewMessage, UserId};

/// What the checks need of a storage.
pub trait ConversationChecked:
    AccountStore + GroupStore + MessageStore + ConversationStore
{
}
impl<T: AccountStore + GroupStore + MessageStore + ConversationStore + ?Sized> ConversationChecked
    for T
{
}

fn at(mut m: NewMessage, ts: i64) -> NewMessage {
    m.timestamp = ts;
    m
}

/// Every listed conversation of `user`, in list order, and the total.
async fn list<S: ConversationStore + ?Sized>(
    s: &S,
    user: UserId,
) -> (Vec<ConversationSummary>, u64) {
    let rows = ok(s.conversations(user, None, 10_000).await, "conversations");
    (rows.items, rows.total_unread)
}

/// `user`'s entry for `conv`, which must be listed.
async fn entry<S: ConversationStore + ?Sized>(
    s: &S,
    user: UserId,
    conv: Conversation,
) -> ConversationSummary {
    let (all, _) = list(s, user).await;
    all.into_iter()
        .find(|e| e.conversation == conv)
        .unwrap_or_else(|| panic!("conversations({user}) must list {conv}"))
}

async fn read<S: MessageStore + ?Sized>(
    s: &S,
    user: UserId,
    conv: Conversation,
    at: ReadAt,
) -> ReadOutcome {
    let what = format!("record_read({user}, {conv}, {at:?})");
    ok(s.record_read(user, conv, at).await, &what)
}

fn state(o: ReadOutcome, what: &str) -> ReadState {
    match o {
        ReadOutcome::Read(s) => s,
        other => panic!("{what}: want Read, got {other:?}"),
    }
}

/// Unread counts: a user's own messages never count and sending reads what came before; a
/// late joiner does not count what came before it; read positions only move forward; the
/// errors of `record_read`; what the list shows of each conversation.
pub async fn check_conversation_counts<S: ConversationChecked + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, d, e, g) = (1, 2, 3, 4, 5, 100);
    add_users(s, &[a, b, c, d, e]).await;
    ok(
        s.create_group(g, "the group", a, &[b, c]).await,
        "create_group",
    );
    let dm = Conversation::direct(a, b);
    let gc = Conversation::Group(g);

    let (l, total) = list(s, a).await;
    assert_eq!(
        l.len(),
        1,
        "a group without messages is listed, a 1:1 conversation without messages is not: {l:?}"
    );
    assert_eq!(
        (
            l[0].conversation,
            l[0].last_seq,
            l[0].last_message.clone(),
            total
        ),
        (gc, 0, None, 0)
    );
    assert_eq!(l[0].name, "the group");

    stored(s, at(direct("d1", b, a), T0 + 1)).await;
    stored(s, at(direct("d2", b, a), T0 + 2)).await;
    let ea = entry(s, a, dm).await;
    assert_eq!(
        (ea.peer, ea.last_seq, ea.read_seq, ea.unread()),
        (b, 2, 0, 2)
    );
    assert_eq!(ea.name, "nick of u2", "a 1:1 entry is named after the peer");
    assert_eq!(ea.last_message.as_ref().map(|m| m.id.as_str()), Some("d2"));
    assert_eq!(
        ea.updated_at,
        T0 + 2,
        "updated_at is the last message's time"
    );
    assert_eq!(
        entry(s, b, dm).await.unread(),
        0,
        "own messages are never unread"
    );

    stored(s, at(direct("d3", a, b), T0 + 3)).await;
    let ea = entry(s, a, dm).await;
    assert_eq!(
        (ea.own_seq, ea.unread()),
        (3, 0),
        "sending reads everything before it"
    );
    assert_eq!(entry(s, b, dm).await.unread(), 1);

    for (i, from) in [(1, b), (2, b), (3, c)] {
        stored(s, at(group_msg(&format!("g{i}"), from, g), T0 + 10 + i)).await;
    }
    assert_eq!(entry(s, a, gc).await.unread(), 3);
    assert_eq!(
        entry(s, b, gc).await.unread(),
        1,
        "b's own g1 and g2 do not count"
    );
    ok(s.add_members(g, &[d]).await, "add_members");
    assert_eq!(
        entry(s, d, gc).await.unread(),
        0,
        "a late joiner does not count what came before"
    );
    stored(s, at(group_msg("g4", c, g), T0 + 20)).await;
    assert_eq!(entry(s, d, gc).await.unread(), 1);
    let (l, total) = list(s, a).await;
    assert_eq!(total, 4, "total_unread of a: 0 (1:1) + 4 (group)");
    assert_eq!(
        l.iter().map(|e| e.conversation).collect::<Vec<_>>(),
        vec![gc, dm],
        "the latest activity first"
    );

    let r = state(read(s, a, gc, ReadAt::Seq(2)).await, "read Seq(2)");
    assert_eq!(
        (r.previous, r.read_seq, r.last_seq, r.unread()),
        (0, 2, 4, 2)
    );
    assert_eq!(
        r.message.map(|m| m.id),
        Some("g2".to_owned()),
        "the message at the position"
    );
    let r = state(read(s, a, gc, ReadAt::Seq(1)).await, "read Seq(1)");
    assert_eq!(
        (r.previous, r.read_seq, r.unread()),
        (2, 2, 2),
        "a read position never moves back"
    );
    assert_eq!(
        read(s, a, gc, ReadAt::Seq(5)).await,
        ReadOutcome::BeyondLast(4)
    );
    assert_eq!(
        entry(s, a, gc).await.read_seq,
        2,
        "nothing recorded beyond the last"
    );
    let r = state(read(s, a, gc, ReadAt::Id("g3".into())).await, "read Id(g3)");
    assert_eq!((r.previous, r.read_seq), (2, 3));
    assert_eq!(
        read(s, c, gc, ReadAt::Id("g3".into())).await,
        ReadOutcome::NoMessage,
        "the sender is no reader"
    );
    assert_eq!(
        read(s, a, gc, ReadAt::Id("nope".into())).await,
        ReadOutcome::NoMessage
    );
    assert_eq!(
        read(s, e, gc, ReadAt::Last).await,
        ReadOutcome::NoMessage,
        "not a member"
    );
    let r = state(read(s, a, gc, ReadAt::Last).await, "read Last");
    assert_eq!((r.read_seq, r.unread()), (4, 0));
    assert_eq!(r.message.map(|m| m.id), Some("g4".to_owned()));
    assert_eq!(list(s, a).await.1, 0);
    let r = state(
        read(s, a, Conversation::direct(a, e), ReadAt::Last).await,
        "read empty 1:1",
    );
    assert_eq!(
        (r.read_seq, r.last_seq, r.message),
        (0, 0, None),
        "a 1:1 conversation without messages reads as 0"
    );

    // A READ implies ARRIVED: nothing read stays pending.
    let r = state(read(s, b, dm, ReadAt::Last).await, "b reads the 1:1");
    assert_eq!(r.read_seq, 3);
    let pending = ok(s.pending(b, 0, 100).await, "pending");
    assert!(
        pending.iter().all(|p| p.message.id != "d3"),
        "read is also arrived: {pending:?}"
    );

    // Leaving and settings of a conversation that is not the user's.
    ok(s.remove_member(g, d, &[]).await, "remove_member");
    assert!(list(s, d).await.0.is_empty(), "a group left is not listed");
    let none = ok(
        s.set_conversation_settings(
            a,
            Conversation::direct(a, e),
            SettingsChange {
                pinned: Some(true),
                muted: None,
            },
        )
        .await,
        "settings",
    );
    assert_eq!(
        none, None,
        "no settings in a 1:1 conversation without messages"
    );
    assert!(
        !ok(s.hide_conversation(d, gc).await, "hide"),
        "no hiding a group one is not in"
    );
}

/// Pinned, muted and hidden: pinned first, muted out of the total, hidden out of the list (and
/// the total) until a newer message arrives.
pub async fn check_conversation_settings<S: ConversationChecked + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let (dab, dac, gc) = (
        Conversation::direct(a, b),
        Conversation::direct(a, c),
        Conversation::Group(g),
    );
    stored(s, at(group_msg("g1", b, g), T0 + 1)).await;
    stored(s, at(direct("b1", b, a), T0 + 2)).await;
    stored(s, at(direct("c1", c, a), T0 + 3)).await;
    stored(s, at(direct("c2", c, a), T0 + 4)).await;
    let order = |l: &[ConversationSummary]| l.iter().map(|e| e.conversation).collect::<Vec<_>>();
    let (l, total) = list(s, a).await;
    assert_eq!((order(&l), total), (vec![dac, dab, gc], 4));

    let set = ok(
        s.set_conversation_settings(
            a,
            gc,
            SettingsChange {
                pinned: Some(true),
                muted: None,
            },
        )
        .await,
        "pin",
    );
    assert_eq!(set.map(|x| (x.pinned, x.muted)), Some((true, false)));
    let set = ok(
        s.set_conversation_settings(
            a,
            dac,
            SettingsChange {
                pinned: None,
                muted: Some(true),
            },
        )
        .await,
        "mute",
    );
    assert_eq!(set.map(|x| (x.pinned, x.muted)), Some((false, true)));
    let (l, total) = list(s, a).await;
    assert_eq!(order(&l), vec![gc, dac, dab], "pinned first");
    assert!(l[0].pinned && l[1].muted && !l[1].pinned);
    assert_eq!(total, 2, "a muted conversation is out of total_unread");
    assert_eq!(
        l[1].unread(),
        2,
        "a muted conversation still counts its own unread"
    );
    assert_eq!(
        list(s, b)
            .await
            .0
            .iter()
            .filter(|e| e.pinned || e.muted)
            .count(),
        0,
        "settings are per user"
    );

    assert!(ok(s.hide_conversation(a, dab).await, "hide"));
    let (l, total) = list(s, a).await;
    assert_eq!(
        (order(&l), total),
        (vec![gc, dac], 1),
        "hidden: out of the list and the total"
    );
    assert_eq!(
        entry(s, b, dab).await.last_seq,
        1,
        "hiding is per user and deletes nothing"
    );
    stored(s, at(direct("b2", b, a), T0 + 5)).await;
    let (l, total) = list(s, a).await;
    assert_eq!(
        (order(&l), total),
        (vec![gc, dab, dac], 3),
        "a newer message brings it back"
    );
    assert_eq!(l[1].unread(), 2);
    // Hiding the sender's side: its own message brings it back as well.
    assert!(ok(s.hide_conversation(a, dab).await, "hide again"));
    stored(s, at(direct("a1", a, b), T0 + 6)).await;
    assert_eq!(entry(s, a, dab).await.unread(), 0);
}

/// Pages: every conversation once, in list order, for any page size; still so when messages
/// arrive between pages (a conversation that moves up is not repeated, none is skipped).
pub async fn check_conversation_pages<S: ConversationChecked + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let me = 1;
    let peers: Vec<UserId> = (10..40).collect();
    add_users(s, &[me]).await;
    add_users(s, &peers).await;
    for (i, &p) in peers.iter().enumerate() {
        // Pairs of equal times: the ties are broken by peer id.
        stored(s, at(direct(&format!("m{p}"), p, me), T0 + (i as i64 / 2))).await;
    }
    ok(s.create_group(500, "g", me, &[10]).await, "create_group");
    let (full, total) = list(s, me).await;
    assert_eq!((full.len(), total), (31, 30));
    for w in full.windows(2) {
        assert!(
            w[0].cursor().is_before(&w[1].cursor()),
            "list order: {:?} then {:?}",
            w[0].cursor(),
            w[1].cursor()
        );
    }
    for size in [1, 4, 7, 31, 50] {
        let mut got = Vec::new();
        let mut after: Option<ConversationCursor> = None;
        loop {
            let page = ok(s.conversations(me, after, size).await, "conversations page").items;
            assert!(page.len() <= size);
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            got.extend(page.iter().map(|e| e.conversation));
        }
        assert_eq!(
            got,
            full.iter().map(|e| e.conversation).collect::<Vec<_>>(),
            "pages of {size}"
        );
    }
    // Messages arrive between pages.
    let mut seen = HashSet::new();
    let mut after: Option<ConversationCursor> = None;
    let mut n = 0;
    loop {
        let page = ok(s.conversations(me, after, 5).await, "conversations page").items;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        for e in &page {
            assert!(
                seen.insert(e.conversation),
                "{} listed twice",
                e.conversation
            );
        }
        n += 1;
        let late = peers[n];
        let conv = Conversation::direct(me, late);
        stored(
            s,
            at(direct(&format!("late{n}"), late, me), T0 + 1000 + n as i64),
        )
        .await;
        if !seen.contains(&conv) {
            seen.insert(conv);
        }
    }
    let all: HashSet<Conversation> = full.iter().map(|e| e.conversation).collect();
    assert_eq!(seen, all, "no conversation skipped while messages arrive");
    assert_eq!(
        ok(s.conversations(me, None, 1).await, "first").items[0].peer,
        peers[n],
        "the latest activity comes first"
    );
}
