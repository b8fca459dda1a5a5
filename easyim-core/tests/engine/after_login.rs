//! After login: heartbeat, idle, end of stream.

use super::*;

#[tokio::test(start_paused = true)]
async fn heartbeats_are_answered_and_keep_the_connection_alive() {
    let h = Harness::new();
    let a = h.user().await;
    let mut c = h.login(a).await;
    tokio::time::sleep(Duration::from_secs(200)).await;
    c.send(c.heartbeat("hb", 9));
    let m = c.recv().await;
    assert_success(&m, a);
    assert_eq!((m.id.as_str(), m.seq), ("hb", 9));
    // 200 + 250 s since login, but only 250 s since the heartbeat: still open. (After login
    // AUTH_TIMEOUT no longer applies.)
    assert!(c.try_recv_within(Duration::from_secs(250)).await.is_none());
    c.send(c.heartbeat("", 10));
    let m = c.recv().await;
    assert_success(&m, a);
    assert_eq!(m.seq, 10);
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_dropped_with_e_idle() {
    let h = Harness::new();
    let a = h.user().await;
    let mut c = h.login(a).await;
    let t0 = tokio::time::Instant::now();
    assert!(c.try_recv_within(Duration::from_secs(299)).await.is_none());
    c.expect_error("E_IDLE", "", 0).await;
    let idle = t0.elapsed();
    assert!(
        idle >= Duration::from_secs(300) && idle < Duration::from_secs(301),
        "{idle:?}"
    );
    c.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}

#[tokio::test(start_paused = true)]
async fn end_of_stream_closes_after_writing_what_was_queued() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    ca.send(ca.heartbeat("hb", 1));
    ca.send(ca.chat(b, ChatType::Single, "m1", 2, "bye"));
    ca.close();
    assert_success(&ca.recv().await, a);
    assert_ack(&ca.recv().await, 2);
    ca.expect_closed().await;
    ca.task.await.unwrap();
    assert_eq!(h.engine.online(a), 0);
    assert_delivery(&cb.recv().await, a, "bye");
}
