//! The checks of [`OutboxStore`]: events written with what they report (and only the kinds
//! selected), claimed in order per key, leased, retried, acknowledged.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;

use super::support::{add_user, direct, group_msg, ok, store, T0};
use crate::events::{message_created, EventKind, OutboxEvent};
use crate::storage::{AccountStore, GroupStore, MessageStore, OutboxStore};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {text}"))
}

/// The data with its `recipients` sorted (their order is not part of the contract).
fn normalized(text: &str) -> serde_json::Value {
    let mut v = json(text);
    if let Some(serde_json::Value::Array(r)) = v.get_mut("recipients") {
        r.sort_by_key(|x| x.as_str().and_then(|s| s.parse::<u64>().ok()));
    }
    v
}

async fn claim_all<S: OutboxStore + ?Sized>(s: &S, now: i64) -> Vec<OutboxEvent> {
    ok(s.claim_events(1000, now, 60_000).await, "claim_events")
}

/// Writing: nothing while the filter is empty; with it set, `user.registered` with each new
/// user and `message.created` with each stored message (not a duplicate, not a refusal), in
/// the same call, with the documented data; a kind left out of the filter is not written.
pub async fn check_outbox_writes<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + MessageStore + OutboxStore + ?Sized,
{
    let st = &*s;
    add_user(st, 1, "alice").await;
    add_user(st, 2, "bob").await;
    store(st, direct("off", 1, 2)).await;
    let stats = ok(st.outbox_stats().await, "outbox_stats");
    assert_eq!(
        stats.depth, 0,
        "nothing is written while the filter is empty"
    );
    assert_eq!(stats.oldest_ms, None);

    st.event_filter().set(&EventKind::ALL);
    add_user(st, 3, "carol").await;
    ok(st.create_group(10, "g", 1, &[2, 3]).await, "create_group");
    let (m1, r1) = store(st, direct("m1", 1, 2)).await;
    // A duplicate and a refusal write nothing.
    assert!(matches!(
        ok(st.store_message(direct("m1", 1, 2)).await, "store"),
        crate::types::StoreOutcome::Duplicate(_)
    ));
    assert!(matches!(
        ok(st.store_message(direct("nobody", 1, 99)).await, "store"),
        crate::types::StoreOutcome::NoUser
    ));
    let (m2, r2) = store(st, group_msg("m2", 2, 10)).await;
    let events = claim_all(st, T0).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::UserRegistered,
            EventKind::MessageCreated,
            EventKind::MessageCreated
        ],
        "one event per change, in the order written: {events:?}"
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    let reg = json(&events[0].data);
    assert_eq!(reg["user_id"], "3");
    assert_eq!(reg["account"], "carol");
    assert_eq!(reg["nickname"], "nick of carol");
    assert_eq!(events[0].key, "u:3");
    for (e, (m, r)) in events[1..].iter().zip([(&m1, &r1), (&m2, &r2)]) {
        let want = message_created(m, r);
        assert_eq!(e.key, want.key, "keyed by conversation");
        assert_eq!(
            normalized(&e.data),
            normalized(&want.data),
            "message.created data"
        );
        assert_eq!(e.created_ms, m.timestamp);
        assert_eq!(e.attempts, 0);
    }
    let stats = ok(st.outbox_stats().await, "outbox_stats");
    assert_eq!(stats.depth, 3);
    assert!(stats.oldest_ms.is_some());
    // Only the kinds selected.
    st.event_filter().set(&[EventKind::UserRegistered]);
    store(st, direct("m3", 2, 1)).await;
    add_user(st, 4, "dan").await;
    ok(
        st.ack_events(&events.iter().map(|e| e.id).collect::<Vec<_>>())
            .await,
        "ack",
    );
    let left = claim_all(st, T0).await;
    assert_eq!(
        left.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventKind::UserRegistered],
        "message.created left out of the filter is not written"
    );
    ok(
        st.ack_events(&left.iter().map(|e| e.id).collect::<Vec<_>>())
            .await,
        "ack",
    );
    // A RECALL and an EDIT are reported by their own kinds, each only if selected.
    st.event_filter()
        .set(&[EventKind::MessageRecalled, EventKind::MessageEdited]);
    store(st, direct("m5", 1, 2)).await;
    let mut edit = direct("e5", 1, 2);
    edit.msg_type = 7;
    edit.ref_id = "m5".to_owned();
    let (e5, r5) = store(st, edit).await;
    let mut recall = direct("r5", 1, 2);
    recall.msg_type = 6;
    recall.content = String::new();
    recall.ref_id = "m5".to_owned();
    let (x5, rx5) = store(st, recall).await;
    let amends = claim_all(st, T0).await;
    assert_eq!(
        amends.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventKind::MessageEdited, EventKind::MessageRecalled],
        "message.edited and message.recalled, not message.created: {amends:?}"
    );
    for (e, (m, r)) in amends.iter().zip([(&e5, &r5), (&x5, &rx5)]) {
        assert_eq!(
            normalized(&e.data),
            normalized(&message_created(m, r).data),
            "the data of message.created, with ref_id naming the target"
        );
    }
}

/// Claiming: in id order, leased (not claimed again until the lease ends or a retry frees
/// it), a key's later events wait while an earlier one is leased or waits for a retry; a
/// retry counts an attempt; acked events are gone; concurrent claims never share an event.
pub async fn check_outbox_claims<S: OutboxStore + ?Sized>(s: Arc<S>) {
    let st = &*s;
    let ev = |key: &str, n: i64| crate::events::NewEvent {
        kind: EventKind::MessageCreated,
        key: key.to_owned(),
        data: format!("{{\"n\":{n}}}"),
        created_ms: T0 + n,
    };
    ok(st.append_events(Vec::new()).await, "append nothing");
    ok(
        st.append_events(vec![ev("a", 1), ev("a", 2), ev("b", 3), ev("a", 4)])
            .await,
        "append",
    );
    let stats = ok(st.outbox_stats().await, "outbox_stats");
    assert_eq!(stats.depth, 4);
    assert_eq!(stats.oldest_ms, Some(T0 + 1));
    let first = ok(st.claim_events(1, T0, 1000).await, "claim");
    assert_eq!(first.len(), 1);
    assert_eq!(json(&first[0].data)["n"], 1);
    // "a" is blocked behind its leased first event; "b" is free.
    let second = ok(st.claim_events(10, T0, 1000).await, "claim");
    assert_eq!(
        second
            .iter()
            .map(|e| json(&e.data)["n"].clone())
            .collect::<Vec<_>>(),
        vec![serde_json::json!(3)],
        "a key's later events wait while an earlier one is leased"
    );
    // A retry frees it for later: still blocked before its time, then claimable with attempts.
    ok(st.retry_events(&[first[0].id], T0 + 500).await, "retry");
    assert!(
        ok(st.claim_events(10, T0 + 100, 1000).await, "claim").is_empty(),
        "a key waits for its earlier event's retry"
    );
    let again = ok(st.claim_events(10, T0 + 600, 1000).await, "claim");
    let ns: Vec<_> = again.iter().map(|e| json(&e.data)["n"].clone()).collect();
    assert_eq!(ns, vec![1, 2, 4], "the key's events in order once due");
    assert_eq!(again[0].attempts, 1, "a retry counts an attempt");
    // The lease ran out (claimer died): claimed again.
    let expired = ok(st.claim_events(10, T0 + 5000, 1000).await, "claim");
    assert_eq!(expired.len(), 4, "every lease ran out: {expired:?}");
    ok(
        st.ack_events(&expired.iter().map(|e| e.id).collect::<Vec<_>>())
            .await,
        "ack",
    );
    ok(st.ack_events(&[u64::MAX]).await, "ack unknown");
    assert_eq!(ok(st.outbox_stats().await, "stats").depth, 0);
    // Concurrent claims share nothing.
    let many: Vec<_> = (0..40).map(|i| ev(&format!("k{}", i % 7), i)).collect();
    ok(st.append_events(many).await, "append");
    let claims = join_all((0..8).map(|_| st.claim_events(5, T0 + 10_000, 60_000))).await;
    let mut seen = HashSet::new();
    for c in claims {
        for e in ok(c, "claim") {
            assert!(seen.insert(e.id), "event {} claimed twice at once", e.id);
        }
    }
    assert!(!seen.is_empty());
}
