//! Order and back-pressure.

use super::*;

/// Reads `n` frames from `c`, asserting each is a chat message (ack or delivery).
async fn collect(mut c: Client, n: usize) -> (Client, Vec<Msg>) {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let m = c.recv().await;
        assert_ne!(m.msg_type, MsgType::Notify as i32, "{m:?}");
        got.push(m);
    }
    (c, got)
}

fn assert_strictly_increasing(who: &str, msgs: &[Msg]) {
    for w in msgs.windows(2) {
        assert!(
            w[0].conv_seq < w[1].conv_seq,
            "{who}: conv_seq {} then {}",
            w[0].conv_seq,
            w[1].conv_seq
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_group_writers_are_seen_in_conv_seq_order_everywhere() {
    const WRITERS: usize = 4;
    const EACH: u32 = 100;
    const TOTAL: usize = WRITERS * EACH as usize;
    let h = Harness::new();
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        writers.push(h.user().await);
    }
    let readers = [h.user().await, h.user().await];
    let all: Vec<_> = writers.iter().chain(&readers).copied().collect();
    let group = h.group(writers[0], &all).await;

    let mut tasks = Vec::new();
    for &r in &readers {
        let c = h.login(r).await;
        tasks.push(tokio::spawn(collect(c, TOTAL)));
    }
    // A second device of a writer sees its own messages too.
    let c = h.login(writers[0]).await;
    tasks.push(tokio::spawn(collect(c, TOTAL)));
    let mut conns = Vec::new();
    for &w in &writers {
        conns.push(h.login(w).await);
    }
    // Everyone is online before anyone writes; then all writers go at once.
    for c in &conns {
        for seq in 1..=EACH {
            c.send(c.chat(
                group,
                ChatType::Group,
                &format!("{}-{seq}", c.user),
                seq,
                "x",
            ));
        }
    }
    // A writer gets its acks and the others' messages: TOTAL frames.
    for c in conns {
        tasks.push(tokio::spawn(collect(c, TOTAL)));
    }
    for t in tasks {
        let (c, got) = t.await.unwrap();
        let who = format!("connection of {}", c.user);
        assert_strictly_increasing(&who, &got);
        let seqs: HashSet<u64> = got.iter().map(|m| m.conv_seq).collect();
        assert_eq!(seqs, (1..=TOTAL as u64).collect(), "{who}");
        // Each writer's own messages keep its order.
        for &w in &writers {
            let own: Vec<u32> = got
                .iter()
                .filter(|m| m.from_user_id == w.to_string())
                .map(|m| m.id.rsplit('-').next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(own, (1..=EACH).collect::<Vec<_>>(), "{who}, writer {w}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_messages_come_before_live_ones_with_no_gap() {
    const N: u64 = 300;
    let h = Harness::new();
    for round in 0..5u64 {
        let a = h.user().await;
        let b = h.user().await;
        let ca = h.login(a).await;
        // The sender writes as fast as acks allow, in a task of its own.
        let writer = tokio::spawn(async move {
            let mut ca = ca;
            for i in 1..=N {
                let seq = i as u32;
                ca.send(ca.chat(b, ChatType::Single, &format!("m{i}"), seq, "x"));
                if i % 8 == 0 {
                    for s in seq - 7..=seq {
                        assert_ack(&ca.recv().await, s);
                    }
                }
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            ca
        });
        // b logs in somewhere in the middle (a different point each round).
        tokio::time::sleep(Duration::from_micros(300 * round)).await;
        let cb = h.login(b).await;
        let (cb, got) = collect(cb, N as usize).await;
        let seqs: Vec<u64> = got.iter().map(|m| m.conv_seq).collect();
        assert_eq!(seqs, (1..=N).collect::<Vec<_>>(), "round {round}");
        let mut cb = cb;
        cb.expect_nothing().await;
        writer.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn notify_reaches_every_connection_of_the_user() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut cb = h.login(b).await;
    let notice = easyim_proto::frames::notice(&a.to_string(), "FRIEND_REQUEST: 7".into());
    h.engine.notify(a, notice.clone());
    for c in [&mut a1, &mut a2] {
        assert_eq!(c.recv().await, notice);
    }
    cb.expect_nothing().await;
}
