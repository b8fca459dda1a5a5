//! Errors that close from outside.

use super::login::expect_login_refused;
use super::*;

#[tokio::test(start_paused = true)]
async fn revoke_closes_every_connection_of_the_user_with_e_auth_revoked() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let token = h.token(a).await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut cb = h.login(b).await;
    h.engine.revoke(a).await.unwrap();
    for c in [&mut a1, &mut a2] {
        c.expect_error("E_AUTH_REVOKED", "", 0).await;
        c.expect_closed().await;
    }
    assert_eq!(h.engine.online(a), 0);
    // Other users are not touched.
    cb.send(cb.heartbeat("hb", 1));
    assert_success(&cb.recv().await, b);
    // The old token no longer logs in; a new one does.
    expect_login_refused(&h, login_frame(a, &token)).await;
    h.login(a).await;
}

#[tokio::test(start_paused = true)]
async fn revoke_during_a_long_login_replay_still_says_e_auth_revoked() {
    let h = Harness::with_config(EngineConfig {
        send_queue: 4,
        ..EngineConfig::default()
    });
    let a = h.user().await;
    let b = h.user().await;
    let mut ca = h.login(a).await;
    for i in 1..=20u32 {
        ca.send_acked(ca.chat(b, ChatType::Single, &format!("p{i}"), i, "x"))
            .await;
    }
    // b's replay fills its queue of 4 and waits for b to read; b is revoked meanwhile.
    let mut cb = h.login(b).await;
    tokio::task::yield_now().await;
    h.engine.revoke(b).await.unwrap();
    let mut pending = 0;
    loop {
        let m = cb.recv().await;
        if m.msg_type == MsgType::Notify as i32 {
            assert!(m.content.starts_with("E_AUTH_REVOKED:"), "{m:?}");
            break;
        }
        pending += 1;
    }
    assert!(pending < 20, "the replay stopped at the revocation");
    cb.expect_closed().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_every_connection_with_e_shutdown() {
    let h = Harness::new();
    let a = h.user().await;
    let mut logged_in = h.login(a).await;
    let mut waiting = h.connect();
    // Let the second connection reach its wait for a login frame.
    tokio::task::yield_now().await;
    h.engine.shutdown();
    assert!(h.engine.is_shutting_down());
    logged_in.expect_error("E_SHUTDOWN", "", 0).await;
    logged_in.expect_closed().await;
    waiting.expect_error("E_SHUTDOWN", "", 0).await;
    waiting.expect_closed().await;
    // New connections are refused the same way, even with a valid login.
    let mut late = h.connect();
    late.send(login_frame(a, &h.token(a).await));
    late.expect_error("E_SHUTDOWN", "", 0).await;
    late.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}
