//! The checks of the events written with friend and group changes: each change writes its
//! events in the same step, only if it is made (a refused change writes none), in the order
//! written per key.

use std::sync::Arc;

use super::support::{add_user, group_msg, ok, store, T0};
use crate::events::{friend_answered, friend_removed, friend_requested, EventKind, NewEvent};
use crate::roles::{GroupUpdate, Role};
use crate::storage::{
    AccountStore, FriendStore, GroupStore, MessageStore, ModerationStore, OutboxStore,
};
use crate::types::{FriendRequest, GroupCaps, RequestStatus};

/// Every event waiting, in id order (claimed, then given back as they were).
async fn waiting<S: OutboxStore + ?Sized>(s: &S) -> Vec<crate::events::OutboxEvent> {
    let events = ok(s.claim_events(1000, T0, 60_000).await, "claim_events");
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    ok(s.ack_events(&ids).await, "ack_events");
    events
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {text}"))
}

/// `got` is `want` but for when it happened.
fn same_event(got: &crate::events::OutboxEvent, want: &NewEvent, what: &str) {
    assert_eq!(got.kind, want.kind, "{what}: kind");
    assert_eq!(got.key, want.key, "{what}: key");
    assert_eq!(json(&got.data), json(&want.data), "{what}: data");
}

/// Friend events: a new request writes `friend.requested` (an open one returned again writes
/// nothing), an answer `friend.accepted` or `friend.refused`, a removal `friend.removed`, each
/// with the documented data and keyed by the pair; a refused change (already friends, no such
/// user or request, answered already, not friends) writes nothing; only the kinds selected.
pub async fn check_outbox_friend_events<S>(s: Arc<S>)
where
    S: AccountStore + FriendStore + OutboxStore + ?Sized,
{
    let st = &*s;
    for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        add_user(st, id, name).await;
    }
    st.event_filter().set(&EventKind::ALL);
    let _ = waiting(st).await;
    let asked = ok(
        st.create_friend_request(100, 1, 2, "hi").await,
        "create_friend_request",
    );
    let again = ok(
        st.create_friend_request(109, 1, 2, "again").await,
        "create_friend_request (open)",
    );
    assert_eq!(again.id, 100, "the open request is returned");
    let other = ok(
        st.create_friend_request(101, 3, 2, "").await,
        "create_friend_request",
    );
    let refused = ok(
        st.answer_friend_request(101, 2, false).await,
        "answer_friend_request (refuse)",
    );
    let accepted = ok(
        st.answer_friend_request(100, 2, true).await,
        "answer_friend_request (accept)",
    );
    // Refused changes.
    assert!(st.answer_friend_request(100, 2, true).await.is_err());
    assert!(st.answer_friend_request(999, 2, true).await.is_err());
    assert!(st.answer_friend_request(100, 3, true).await.is_err());
    assert!(st.create_friend_request(102, 1, 2, "").await.is_err());
    assert!(st.create_friend_request(103, 1, 99, "").await.is_err());
    assert!(st.remove_friend(1, 3).await.is_err());
    ok(st.remove_friend(2, 1).await, "remove_friend");

    let events = waiting(st).await;
    let at = T0;
    let want = [
        friend_requested(&asked, at),
        friend_requested(&other, at),
        friend_answered(&refused, at).expect("answered"),
        friend_answered(&accepted, at).expect("answered"),
        friend_removed(2, 1, at),
    ];
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        want.iter().map(|e| e.kind).collect::<Vec<_>>(),
        "one event per change made, none for a refused one: {events:?}"
    );
    for (i, (got, want)) in events.iter().zip(&want).enumerate() {
        same_event(got, want, &format!("friend event {i}"));
    }
    let first = json(&events[0].data);
    assert_eq!(first["request_id"], "100");
    assert_eq!(first["from_user_id"], "1");
    assert_eq!(first["to_user_id"], "2");
    assert_eq!(first["msg"], "hi");
    assert_eq!(events[0].key, "f:1:2");
    assert_eq!(events[2].key, "f:2:3", "keyed by the pair, lower id first");
    assert_eq!(events[4].kind, EventKind::FriendRemoved);
    assert_eq!(json(&events[4].data)["user_id"], "2");

    // Only the kinds selected.
    st.event_filter().set(&[EventKind::FriendAccepted]);
    ok(
        st.create_friend_request(104, 3, 1, "").await,
        "create_friend_request",
    );
    ok(
        st.answer_friend_request(104, 1, true).await,
        "answer_friend_request",
    );
    ok(st.remove_friend(1, 3).await, "remove_friend");
    let only = waiting(st).await;
    let want = FriendRequest {
        id: 104,
        from: 3,
        to: 1,
        msg: String::new(),
        status: RequestStatus::Accepted,
    };
    assert_eq!(only.len(), 1, "friend.accepted alone: {only:?}");
    same_event(
        &only[0],
        &friend_answered(&want, at).expect("answered"),
        "selected",
    );
}

/// An event of `kind` about group 10 that says which change wrote it (`n`).
fn group_event(kind: EventKind, n: u32) -> Vec<NewEvent> {
    vec![NewEvent {
        kind,
        key: "g:10".to_owned(),
        data: format!("{{\"n\":{n}}}"),
        created_ms: T0 + i64::from(n),
    }]
}

/// Group events: every change of [`GroupStore`] and [`ModerationStore`] writes the events it
/// is given, in the same step and in order with the group's messages (one key); a refused
/// change (taken id, no such group, user or member, a cap, answered already) writes none, nor
/// does a join request that returns the open one.
pub async fn check_outbox_group_events<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + ModerationStore + MessageStore + OutboxStore + ?Sized,
{
    let st = &*s;
    for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol"), (4, "dan")] {
        add_user(st, id, name).await;
    }
    st.event_filter().set(&EventKind::ALL);
    let _ = waiting(st).await;
    let caps = GroupCaps::UNLIMITED;
    let two = GroupCaps {
        max_members: 2,
        max_groups_per_user: u64::MAX,
    };
    let k = |kind, n| group_event(kind, n);
    let g = "create_group_within";
    ok(
        st.create_group_within(10, "g", 1, &[2], caps, &k(EventKind::GroupCreated, 1))
            .await,
        g,
    );
    assert!(st
        .create_group_within(10, "g", 1, &[], caps, &k(EventKind::GroupCreated, 90))
        .await
        .is_err());
    assert!(st
        .create_group_within(11, "g", 1, &[99], caps, &k(EventKind::GroupCreated, 91))
        .await
        .is_err());
    assert!(st
        .create_group_within(11, "g", 1, &[2, 3], two, &k(EventKind::GroupCreated, 92))
        .await
        .is_err());
    let join = EventKind::GroupMemberJoined;
    ok(
        st.add_members_within(10, &[3], caps, &k(join, 2)).await,
        "add",
    );
    assert!(st
        .add_members_within(10, &[4], two, &k(join, 93))
        .await
        .is_err());
    assert!(st
        .add_members_within(10, &[99], caps, &k(join, 94))
        .await
        .is_err());
    assert!(st
        .add_members_within(99, &[4], caps, &k(join, 95))
        .await
        .is_err());
    let (message, _) = store(st, group_msg("gm", 1, 10)).await;
    let role = EventKind::GroupRoleChanged;
    ok(
        st.set_role(10, 3, Role::Admin, &k(role, 3)).await,
        "set_role",
    );
    assert!(st.set_role(10, 1, Role::Admin, &k(role, 96)).await.is_err());
    assert!(st.set_role(10, 4, Role::Admin, &k(role, 97)).await.is_err());
    let mute = EventKind::GroupMemberMuted;
    ok(
        st.set_muted_until(10, 2, T0 + 60_000, &k(mute, 4)).await,
        "set_muted_until",
    );
    assert!(st.set_muted_until(10, 4, T0, &k(mute, 98)).await.is_err());
    let all = GroupUpdate {
        mute_all: Some(true),
        ..GroupUpdate::default()
    };
    ok(
        st.update_group(10, &all, &k(EventKind::GroupMuted, 5))
            .await,
        "update_group",
    );
    assert!(st
        .update_group(99, &all, &k(EventKind::GroupMuted, 99))
        .await
        .is_err());
    let owner = EventKind::GroupOwnerChanged;
    ok(
        st.transfer_owner(10, 3, &k(owner, 6)).await,
        "transfer_owner",
    );
    assert!(st.transfer_owner(10, 4, &k(owner, 100)).await.is_err());
    let asked = EventKind::GroupJoinRequested;
    let request = ok(
        st.create_join_request(500, 10, 4, &k(asked, 7)).await,
        "create_join_request",
    );
    assert_eq!(request.id, 500);
    let open = ok(
        st.create_join_request(501, 10, 4, &k(asked, 101)).await,
        "create_join_request (open)",
    );
    assert_eq!(
        open.id, 500,
        "the open request is returned, and no event written"
    );
    assert!(st
        .create_join_request(502, 99, 4, &k(asked, 102))
        .await
        .is_err());
    let answered = EventKind::GroupJoinAnswered;
    ok(
        st.answer_join_request(500, false, &k(answered, 8)).await,
        "answer_join_request",
    );
    assert!(st
        .answer_join_request(500, true, &k(answered, 103))
        .await
        .is_err());
    assert!(st
        .answer_join_request(599, true, &k(answered, 104))
        .await
        .is_err());
    let left = EventKind::GroupMemberLeft;
    ok(st.remove_member(10, 2, &k(left, 9)).await, "remove_member");
    assert!(st.remove_member(10, 2, &k(left, 105)).await.is_err());
    assert!(st.remove_member(99, 2, &k(left, 106)).await.is_err());
    let gone = EventKind::GroupDismissed;
    ok(st.dismiss_group(10, &k(gone, 10)).await, "dismiss_group");
    assert!(st.dismiss_group(10, &k(gone, 107)).await.is_err());

    let events = waiting(st).await;
    let seen: Vec<String> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::MessageCreated => format!("message {}", json(&e.data)["message"]["id"]),
            kind => format!("{kind} {}", json(&e.data)["n"]),
        })
        .collect();
    let want = [
        "group.created 1",
        "group.member_joined 2",
        "message \"gm\"",
        "group.role_changed 3",
        "group.member_muted 4",
        "group.muted 5",
        "group.owner_changed 6",
        "group.join_requested 7",
        "group.join_answered 8",
        "group.member_left 9",
        "group.dismissed 10",
    ];
    assert_eq!(
        seen, want,
        "each change made writes its events, in order with the group's messages; a refused \
         change writes none"
    );
    assert!(
        events.iter().all(|e| e.key == message.conversation().key()),
        "one key: the group's conversation"
    );
    for e in events
        .iter()
        .filter(|e| e.kind != EventKind::MessageCreated)
    {
        let n = json(&e.data)["n"].as_i64().expect("n");
        assert_eq!(e.created_ms, T0 + n, "the event as given");
    }
}
