//! Connections whose queue fills: a slow reader lags and catches up from storage instead of
//! being closed; a sender that does not read its acks is not read either; a peer that reads
//! nothing is closed after `STALL_TIMEOUT`; a gap in `conv_seq` holds nothing for long.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use easyim_core::{
    Conversation, Engine, EngineConfig, HistoryItem, HistoryPage, MessageStore, NewMessage,
    PendingMessage, Receipt, StoreOutcome, StoredMessage, UserId,
};
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
                let mine = m.id.starts_with(&format!("w{w}-")) && m.to_user_id == group.to_string();
                if mine && m.from_user_id == u.to_string() && m.seq != 0 {
                    acks += 1;
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

/// A message store whose writes take a while, so that stores of several writers overlap; a
/// message whose content is "stuck" takes 10 s (a store that is always in flight meanwhile).
struct Slow(std::sync::Arc<FlakyStorage>);

async fn store_delay(msgs: &[NewMessage]) {
    let stuck = msgs.iter().any(|m| m.content == "stuck");
    let ms = if stuck { 10_000 } else { 5 };
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[async_trait::async_trait]
impl MessageStore for Slow {
    async fn store_message(&self, msg: NewMessage) -> easyim_core::Result<StoreOutcome> {
        store_delay(std::slice::from_ref(&msg)).await;
        self.0.store_message(msg).await
    }
    async fn store_messages(
        &self,
        msgs: Vec<NewMessage>,
    ) -> easyim_core::Result<Vec<StoreOutcome>> {
        store_delay(&msgs).await;
        self.0.store_messages(msgs).await
    }
    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        id: &str,
        receipt: Receipt,
    ) -> easyim_core::Result<Option<StoredMessage>> {
        self.0.record_receipt(reader, conv, id, receipt).await
    }
    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: easyim_core::ReadAt,
    ) -> easyim_core::Result<easyim_core::ReadOutcome> {
        self.0.record_read(reader, conv, at).await
    }
    async fn pending(
        &self,
        user: UserId,
        after: u64,
        limit: usize,
    ) -> easyim_core::Result<Vec<PendingMessage>> {
        self.0.pending(user, after, limit).await
    }
    async fn message(
        &self,
        conv: Conversation,
        id: &str,
    ) -> easyim_core::Result<Option<StoredMessage>> {
        self.0.message(conv, id).await
    }
    async fn hide_messages(
        &self,
        user: u64,
        conv: Conversation,
        ids: &[String],
    ) -> easyim_core::Result<u64> {
        self.0.hide_messages(user, conv, ids).await
    }
    async fn hidden_seqs(
        &self,
        user: u64,
        conv: Conversation,
        seqs: &[u64],
    ) -> easyim_core::Result<Vec<u64>> {
        self.0.hidden_seqs(user, conv, seqs).await
    }
    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> easyim_core::Result<Vec<HistoryItem>> {
        self.0.history(conv, page, limit).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_gap_left_by_a_partly_failed_batch_holds_nothing_for_long_under_constant_writes() {
    const WRITERS: usize = 3;
    // One message a millisecond each for 5 s, while a store takes 5 ms: there is always one
    // in flight.
    const EACH: u32 = 5000;
    let mut h = Harness::new();
    h.engine = Engine::new(
        std::sync::Arc::new(Slow(h.storage.clone())),
        h.engine.auth().clone(),
        EngineConfig::default(),
    );
    let failer = h.user().await;
    let reader = h.user().await;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        writers.push(h.user().await);
    }
    let stuck_user = h.user().await;
    let group = h
        .group(failer, &[&writers[..], &[reader, stuck_user]].concat())
        .await;
    let mut cr = h.login(reader).await;
    let reading = tokio::spawn(async move {
        // Each delivery's conv_seq and when it came.
        let mut got = Vec::new();
        while let Some(Some(m)) = cr.try_recv_within(Duration::from_secs(20)).await {
            if m.msg_type != MsgType::Notify as i32 {
                got.push((m.conv_seq, tokio::time::Instant::now()));
            }
        }
        got
    });
    let mut tasks = Vec::new();
    for (w, &u) in writers.iter().enumerate() {
        let c = h.login(u).await;
        tasks.push(tokio::spawn(async move {
            let mut c = c;
            // The conv_seq of each acked message of this writer.
            let mut acked = Vec::new();
            let mut note = |m: Option<std::sync::Arc<easyim_proto::Encoded>>| {
                let m = m.expect("writer stays connected").msg().clone();
                if m.seq != 0 && m.msg_type != MsgType::Notify as i32 {
                    acked.push(m.conv_seq);
                }
            };
            tokio::time::sleep(Duration::from_millis(w as u64)).await;
            for i in 1..=EACH {
                c.send(c.chat(group, ChatType::Group, &format!("w{w}-{i}"), i, "x"));
                tokio::time::sleep(Duration::from_millis(1)).await;
                while let Ok(m) = tokio::time::timeout(Duration::ZERO, c.out.recv()).await {
                    note(m);
                }
            }
            while let Ok(m) = tokio::time::timeout(Duration::from_secs(5), c.out.recv()).await {
                note(m);
            }
            acked
        }));
    }
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // One store stays in flight for 10 s.
    let cstuck = h.login(stuck_user).await;
    cstuck.send(cstuck.chat(group, ChatType::Group, "s1", 1, "stuck"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A batch of two: the first is committed, then the storage fails.
    h.storage.fail_batches_after_first(true);
    let mut cf = h.login(failer).await;
    cf.send(cf.chat(group, ChatType::Group, "f1", 1, "x"));
    cf.send(cf.chat(group, ChatType::Group, "f2", 2, "x"));
    let mut errors = Vec::new();
    while errors.len() < 2 {
        let m = cf.recv().await;
        if m.msg_type == MsgType::Notify as i32 {
            errors.push(m);
        }
    }
    assert_error(&errors[0], "E_INTERNAL", failer, "f1", 1);
    assert_error(&errors[1], "E_INTERNAL", failer, "f2", 2);
    // The failer reads on, so it does not lag.
    let draining = tokio::spawn(async move {
        while let Some(Some(_)) = cf.try_recv_within(Duration::from_secs(20)).await {}
    });
    h.storage.fail_batches_after_first(false);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked.sort_unstable();
    let got = reading.await.unwrap();
    draining.abort();
    drop(cstuck);
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "not in conv_seq order"
    );
    assert!(acked.len() > 10_000, "most writes succeed: {}", acked.len());
    // Every acked message, once (besides them: the stuck one, and those a failed batch
    // committed before it broke, which a refill may bring from storage).
    let delivered: HashSet<u64> = seqs.iter().copied().collect();
    assert!(
        acked.iter().all(|s| delivered.contains(s)),
        "an acked message is missing"
    );
    let longest = got.windows(2).map(|w| w[1].1 - w[0].1).max().unwrap();
    eprintln!(
        "longest hold {longest:?}; {} delivered, {} acked",
        seqs.len(),
        acked.len()
    );
    assert!(
        got[0].1 - t0 <= Duration::from_secs(3),
        "the first delivery came after {:?}",
        got[0].1 - t0
    );
    assert!(
        longest <= Duration::from_secs(3),
        "a gap held the group for {longest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lagging_connection_that_is_revoked_gets_one_last_word() {
    let h = Harness::with_config(small_queue());
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    for i in 1..=40u32 {
        ca.send_acked(ca.chat(b, ChatType::Single, &format!("m{i}"), i, "x"))
            .await;
    }
    // b's queue is full, it lags and waits to drain; it is revoked meanwhile.
    h.engine.revoke(b).await.unwrap();
    let mut deliveries = 0;
    loop {
        let m = cb.recv().await;
        if m.msg_type == MsgType::Notify as i32 {
            assert!(m.content.starts_with("E_AUTH_REVOKED:"), "{m:?}");
            break;
        }
        deliveries += 1;
    }
    assert_eq!(deliveries, 8, "what fitted in SEND_QUEUE");
    cb.expect_closed().await;
    assert_eq!(metric(&h, "easyim_slow_consumers_total"), 0);
}
