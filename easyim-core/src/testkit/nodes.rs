//! Two storages on one database ("two nodes"): what a storage for several nodes must
//! guarantee across them. Run by the tests of the PostgreSQL and MySQL storages, each with
//! two storages it opened on one fresh database; and a throughput measurement they share.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use easyim_proto::ChatType;

use super::support::{new_msg, test_user};
use crate::events::{EventKind, NewEvent, OutboxEvent};
use crate::storage::Storage;
use crate::types::{Conversation, HistoryPage, NewMessage, StoreOutcome, UserId};

/// Two nodes write one group and one 1:1 conversation at once, single messages and batches
/// mixed: conv_seq must be 1..=N with no gap and no duplicate, each writer's messages numbered
/// in its send order, and the history must agree with what the writers were told.
pub async fn check_two_nodes_conv_seq(a: Arc<dyn Storage>, b: Arc<dyn Storage>) {
    let nodes = [a, b];
    let members: Vec<UserId> = (1..=6).collect();
    for &u in &members {
        nodes[0]
            .create_user(test_user(u, &format!("node{u}")))
            .await
            .unwrap();
    }
    let g = 1000;
    nodes[1].create_group(g, "busy", 1, &members).await.unwrap();

    const WRITERS: usize = 12;
    const ROUNDS: usize = 20;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let node = Arc::clone(&nodes[w % 2]);
        let from = members[w % members.len()];
        tasks.push(tokio::spawn(async move {
            let mut told: Vec<(Conversation, String, u64)> = Vec::new();
            for round in 0..ROUNDS {
                // A batch that touches both conversations, in an order that differs between
                // writers (the conversation locks must not deadlock), or a single message.
                let mut batch = vec![
                    new_msg(ChatType::Group, &format!("g-{w}-{round}"), from, g),
                    new_msg(
                        ChatType::Single,
                        &format!("d-{w}-{round}"),
                        if w % 4 < 2 { 1 } else { 2 },
                        if w % 4 < 2 { 2 } else { 1 },
                    ),
                ];
                if w % 3 == 1 {
                    batch.reverse();
                }
                let outcomes = if round % 2 == 0 {
                    node.store_messages(batch.clone()).await.unwrap()
                } else {
                    let mut v = Vec::new();
                    for m in batch.clone() {
                        v.push(node.store_message(m).await.unwrap());
                    }
                    v
                };
                for (m, o) in batch.iter().zip(outcomes) {
                    match o {
                        StoreOutcome::Stored { message, .. } => {
                            told.push((m.conversation(), message.id, message.conv_seq))
                        }
                        other => panic!("writer {w}: {:?} -> {other:?}", m.id),
                    }
                }
            }
            told
        }));
    }
    let mut told = Vec::new();
    for t in tasks {
        told.push(t.await.expect("writer task"));
    }

    for conv in [Conversation::Group(g), Conversation::direct(1, 2)] {
        let mut seqs = Vec::new();
        for (w, mine) in told.iter().enumerate() {
            let mine: Vec<u64> = mine.iter().filter(|t| t.0 == conv).map(|t| t.2).collect();
            assert!(
                mine.windows(2).all(|p| p[0] < p[1]),
                "{conv}: writer {w} got conv_seqs out of its send order: {mine:?}"
            );
            seqs.extend(mine);
        }
        seqs.sort_unstable();
        let total = (WRITERS * ROUNDS) as u64;
        assert_eq!(
            seqs,
            (1..=total).collect::<Vec<_>>(),
            "{conv}: conv_seq must be exactly 1..={total}"
        );
        let history = nodes[0]
            .history(conv, HistoryPage::After(0), 10_000)
            .await
            .unwrap();
        let by_id: std::collections::HashMap<&str, u64> = told
            .iter()
            .flatten()
            .filter(|t| t.0 == conv)
            .map(|t| (t.1.as_str(), t.2))
            .collect();
        assert_eq!(history.len() as u64, total, "{conv}: history length");
        for (i, h) in history.iter().enumerate() {
            assert_eq!(h.message.conv_seq, i as u64 + 1, "{conv}: history order");
            assert_eq!(
                by_id.get(h.message.id.as_str()),
                Some(&h.message.conv_seq),
                "{conv}: history disagrees with the writer about {:?}",
                h.message.id
            );
        }
    }
}

/// Two nodes deliver one outbox: every event handed out exactly once, each key's in order,
/// and while one node holds a claim the other gets what it did not take.
pub async fn check_two_nodes_share_outbox(a: Arc<dyn Storage>, b: Arc<dyn Storage>) {
    const KEYS: usize = 8;
    const PER_KEY: usize = 40;
    let mut events = Vec::new();
    for n in 0..PER_KEY {
        for k in 0..KEYS {
            events.push(NewEvent {
                kind: EventKind::MessageCreated,
                key: format!("k{k}"),
                data: format!("{{\"k\":{k},\"n\":{n}}}"),
                created_ms: 1,
            });
        }
    }
    a.append_events(events).await.unwrap();
    // (node, key, n) in the order each event was handed to a node, recorded before its ack.
    let log: Arc<Mutex<Vec<(usize, u64, u64)>>> = Arc::default();
    let note = |node: usize, claimed: &[OutboxEvent]| {
        for e in claimed {
            let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
            log.lock()
                .unwrap()
                .push((node, v["k"].as_u64().unwrap(), v["n"].as_u64().unwrap()));
        }
    };
    // Shared, whatever the timing: while node a holds its claim on seven keys' first events,
    // node b gets the eighth key's first events, and nothing of a key a holds.
    let now = crate::ids::now_ms() as i64;
    let first_a = a.claim_events(7, now, 60_000).await.unwrap();
    let first_b = b.claim_events(7, now, 60_000).await.unwrap();
    assert_eq!(first_a.len(), 7, "{first_a:?}");
    assert!(!first_b.is_empty());
    assert!(
        first_b.iter().all(|e| e.key == "k7"),
        "b gets only the key a left: {first_b:?}"
    );
    note(0, &first_a);
    note(1, &first_b);
    for (s, claimed) in [(&a, &first_a), (&b, &first_b)] {
        let ids: Vec<u64> = claimed.iter().map(|e| e.id).collect();
        s.ack_events(&ids).await.unwrap();
    }
    let run = |node: usize, s: Arc<dyn Storage>, log: Arc<Mutex<Vec<(usize, u64, u64)>>>| async move {
        loop {
            let now = crate::ids::now_ms() as i64;
            let claimed = s.claim_events(7, now, 60_000).await.unwrap();
            if claimed.is_empty() {
                if s.outbox_stats().await.unwrap().depth == 0 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                continue;
            }
            for e in &claimed {
                let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
                log.lock().unwrap().push((
                    node,
                    v["k"].as_u64().unwrap(),
                    v["n"].as_u64().unwrap(),
                ));
            }
            let ids: Vec<u64> = claimed.iter().map(|e| e.id).collect();
            s.ack_events(&ids).await.unwrap();
        }
    };
    tokio::join!(
        run(0, a.clone(), log.clone()),
        run(1, b.clone(), log.clone())
    );
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.len(),
        KEYS * PER_KEY,
        "every event handed out exactly once"
    );
    for k in 0..KEYS as u64 {
        let ns: Vec<u64> = log.iter().filter(|e| e.1 == k).map(|e| e.2).collect();
        assert_eq!(
            ns,
            (0..PER_KEY as u64).collect::<Vec<_>>(),
            "key {k} in order"
        );
    }
}

/// Prints the throughput of `store_messages` batches and of single `store_message` calls from
/// concurrent writers, in messages per second: a measurement for a storage's `--ignored`
/// Several nodes migrating one fresh database at once, then one more (nothing left to do):
/// every one opens and works. `open` opens a storage on the same fresh database each call.
pub async fn check_concurrent_migrations<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Storage>>,
{
    let opened = futures::future::join_all((0..4).map(|_| open())).await;
    for s in &opened {
        s.ping()
            .await
            .expect("a storage opened while others migrated works");
    }
    drop(opened);
    let again = open().await;
    assert_eq!(
        again.server_secret("a").await.unwrap(),
        "a",
        "a working storage after migrating twice"
    );
}

/// test, not a check.
pub async fn measure_store_throughput(storage: Arc<dyn Storage>) {
    const USERS: u64 = 64;
    for u in 1..=USERS {
        storage
            .create_user(test_user(u, &format!("tput{u}")))
            .await
            .unwrap();
    }
    let members: Vec<UserId> = (1..=USERS).collect();
    storage.create_group(1, "all", 1, &members).await.unwrap();

    for (label, batch, writers, per_writer) in [
        ("store_message, 1 per call", 1usize, 32u64, 200usize),
        ("store_messages, 64 per call", 64, 32, 40),
    ] {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let s = Arc::clone(&storage);
            let label = label.to_owned();
            tasks.push(tokio::spawn(async move {
                let from = w % USERS + 1;
                let to = (w + 1) % USERS + 1;
                for i in 0..per_writer {
                    let msgs: Vec<NewMessage> = (0..batch)
                        .map(|j| {
                            let id = format!("{label}-{w}-{i}-{j}");
                            if j % 8 == 7 {
                                new_msg(ChatType::Group, &id, from, 1)
                            } else {
                                new_msg(ChatType::Single, &id, from, to)
                            }
                        })
                        .collect();
                    if batch == 1 {
                        let m = msgs.into_iter().next().unwrap();
                        s.store_message(m).await.unwrap();
                    } else {
                        s.store_messages(msgs).await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let n = writers as usize * per_writer * batch;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label}: {n} messages from {writers} writers in {secs:.2}s = {:.0} msgs/s",
            n as f64 / secs
        );
    }
}
