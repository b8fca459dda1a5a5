//! Connections whose queue fills: a slow reader lags and catches up from storage instead of
//! being closed; a sender that does not read its acks is not read either; a peer that reads
//! nothing is closed after `STALL_TIMEOUT`; a gap in `conv_seq` holds nothing for long.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use easyim_core::EngineConfig;
use easyim_proto::{ChatType, Msg, MsgType};

fn small_queue() -> EngineConfig {
    EngineConfig {
        send_queue: 8,
        ..EngineConfig::default()
    }
}

/// Reads `n` chat deliveries (skipping acks), with `pause` between reads.
async fn read_deliveries(c: &mut Client, n: usize, pause: Duration) -> Vec<Msg> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let m = c.recv().await;
        assert_ne!(m.msg_type, MsgType::Notify as i32, "{m:?}");
        got.push(m);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    got
}

fn assert_all_once_in_order(who: &str, got: &[Msg], n: u64) {
    let seqs: Vec<u64> = got.iter().map(|m| m.conv_seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "{who}");
    let ids: HashSet<&str> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "{who}: a message came twice");
}

fn metric(h: &Harness, name: &str) -> u64 {
    let mut out = String::new();
    h.engine.metrics().render(&mut out);
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_lags_and_catches_up_instead_of_being_closed() {
    const SENDERS: usize = 2;
    const EACH: u32 = 150;
    const TOTAL: usize = SENDERS * EACH as usize;
    let h = Harness::with_config(small_queue());
    let senders = [h.user().await, h.user().await];
    let slow = h.user().await;
    let fast = h.user().await;
    let group = h.group(senders[0], &[senders[1], slow, fast]).await;
    let mut cs = h.login(slow).await;
    let cf = h.login(fast).await;
    let fast_reader = tokio::spawn(async move {
        let mut cf = cf;
        let got = read_deliveries(&mut cf, TOTAL, Duration::ZERO).await;
        (cf, got)
    });
    let slow_reader = tokio::spawn(async move {
        let got = read_deliveries(&mut cs, TOTAL, Duration::from_millis(1)).await;
        (cs, got)
    });
    let mut writers = Vec::new();
    for (w, &u) in senders.iter().enumerate() {
        let c = h.login(u).await;
        writers.push(tokio::spawn(async move {
            let mut c = c;
            // Back to back: the acks are read at the end.
            for i in 1..=EACH {
                c.send(c.chat(group, ChatType::Group, &format!("w{w}-{i}"), i, "x"));
                tokio::task::yield_now().await;
            }
            let mut acks = 0;
            while acks < EACH {
                let m = c.recv().await;
                if m.id.starts_with(&format!("w{w}-")) && m.to_user_id == group.to_string() {
                    if m.from_user_id == u.to_string() && m.seq != 0 {
                        acks += 1;
                    }
                }
            }
            c
        }));
    }
    for w in writers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("writers done")
            .unwrap();
    }
    let (_cf, got) = fast_reader.await.unwrap();
    assert_all_once_in_order("fast", &got, TOTAL as u64);
    let (mut cs, got) = tokio::time::timeout(Duration::from_secs(30), slow_reader)
        .await
        .expect("the slow reader got everything")
        .unwrap();
    assert_all_once_in_order("slow", &got, TOTAL as u64);
    cs.expect_nothing().await;
    assert_eq!(metric(&h, "easyim_slow_consumers_total"), 0);
    assert!(
        metric(&h, "easyim_catch_ups_total") > 0,
        "the slow one lagged"
    );
    assert_eq!(h.engine.online(slow), 1);
}

#[tokio::test(start_paused = true)]
async fn a_sender_that_does_not_read_its_acks_is_not_closed() {
    const N: u32 = 300;
    let h = Harness::with_config(small_queue());
    let a = h.user().await;
    let b = h.user().await;
    let mut ca = h.login(a).await;
    for i in 1..=N {
        ca.send(ca.chat(b, ChatType::Single, &format!("m{i}"), i, "x"));
    }
    // Long enough for everything to be processed that fits; nothing is read meanwhile.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(h.engine.online(a), 1, "still connected");
    for i in 1..=N {
        let ack = ca.recv().await;
        assert_ack(&ack, i);
        assert_eq!(ack.id, format!("m{i}"));
    }
    ca.expect_nothing().await;
    assert_eq!(metric(&h, "easyim_slow_consumers_total"), 0);
    // b gets all of them at login.
    let mut cb = h.login(b).await;
    let got = read_deliveries(&mut cb, N as usize, Duration::ZERO).await;
    let seqs: Vec<u64> = got.iter().map(|m| m.conv_seq).collect();
    assert_eq!(seqs, (1..=u64::from(N)).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_reads_nothing_is_closed_after_the_stall_timeout() {
    let h = Harness::with_config(small_queue());
    let a = h.user().await;
    let b = h.user().await;
    let mut stuck = h.login(b).await;
    let mut ca = h.login(a).await;
    for i in 1..=40u32 {
        ca.send_acked(ca.chat(b, ChatType::Single, &format!("m{i}"), i, "x"))
            .await;
    }
    // Before the stall timeout: still open.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(h.engine.online(b), 1);
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(h.engine.online(b), 0, "closed after STALL_TIMEOUT");
    assert_eq!(metric(&h, "easyim_slow_consumers_total"), 1);
    // Its outbox ends at once; everything stays pending for the next login.
    assert_eq!(
        tokio::time::timeout(Duration::from_millis(100), stuck.out.recv())
            .await
            .map(|f| f.is_none()),
        Ok(true)
    );
    let mut again = h.login(b).await;
    let got = read_deliveries(&mut again, 40, Duration::ZERO).await;
    let seqs: Vec<u64> = got.iter().map(|m| m.conv_seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    again.expect_nothing().await;
}
