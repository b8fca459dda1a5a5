//! The engine against protocol.md, without sockets: each test client is an `mpsc` channel of
//! decoded frames going in and the connection's `Outbox` coming out. One test per flow and per
//! error code; timeouts run on paused time.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use easyim_core::{EngineConfig, Grant, JwtAuth, Storage};
use easyim_proto::{ChatType, CodecError, Format, Msg, MsgStatus, MsgType};

// ---- login -------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn any_event_with_a_valid_token_logs_in_whatever_its_to_user_id() {
    // The original looked only at msg_type and the token; its clients rely on it.
    let h = Harness::new();
    let a = h.user().await;
    let mut live = Vec::new();
    for to in ["TYPING", "", "12345"] {
        let mut c = h.connect();
        c.user = a;
        let mut login = login_frame(a, &h.token(a).await);
        login.to_user_id = to.into();
        c.send(login);
        let m = c.recv().await;
        assert_success(&m, a);
        assert_eq!((m.id.as_str(), m.seq), ("login-1", 1));
        live.push(c);
    }
    assert_eq!(h.engine.online(a), 3);
}

#[tokio::test(start_paused = true)]
async fn login_answers_success_with_the_frames_id_and_seq() {
    let h = Harness::new();
    let a = h.user().await;
    let mut c = h.connect();
    c.user = a;
    let mut login = login_frame(a, &h.token(a).await);
    login.id = "hello-42".into();
    login.seq = 42;
    c.send(login);
    let m = c.recv().await;
    assert_success(&m, a);
    assert_eq!((m.id.as_str(), m.seq), ("hello-42", 42));
    assert!(m.access_token.is_empty());
    c.expect_nothing().await;
    assert_eq!(h.engine.online(a), 1);
}

#[tokio::test(start_paused = true)]
async fn a_first_frame_that_is_not_an_event_is_e_first_msg_and_closes() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let token = h.token(a).await;

    // A chat message first.
    let mut c = h.connect();
    let mut m = chat(a, b, ChatType::Single, "m1", 3, "hi");
    m.access_token = token.clone();
    c.send(m);
    c.expect_error("E_FIRST_MSG", "m1", 3).await;
    c.expect_closed().await;

    // KEEP_ALIVE as to_user_id, but not an event.
    let mut c = h.connect();
    let mut m = login_frame(a, &token);
    m.msg_type = MsgType::Text as i32;
    c.send(m);
    c.expect_error("E_FIRST_MSG", "login-1", 1).await;
    c.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}

/// Sends `login` on a new connection and expects `E_AUTH` then the end.
async fn expect_login_refused(h: &Harness, login: Msg) {
    let mut c = h.connect();
    c.send(login);
    c.expect_error("E_AUTH", "login-1", 1).await;
    c.expect_closed().await;
}

/// A JWT with the claims easyim uses, signed with `key`.
fn jwt(key: &[u8], user: &str, grant: &str, exp: u64) -> String {
    let claims = serde_json::json!({ "id": user, "grant_type": grant, "exp": exp, "iat": 0 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn bad_tokens_are_e_auth_and_close() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let far = easyim_core::now_ms() / 1000 + 3600;

    // Garbage, empty.
    expect_login_refused(&h, login_frame(a, "aa.bbb.cc")).await;
    expect_login_refused(&h, login_frame(a, "")).await;
    // Well formed, signed with a key that is not the server's.
    let forged = jwt(b"not the key", &a.to_string(), "access_token", far);
    expect_login_refused(&h, login_frame(a, &forged)).await;
    // Signed with the server secret alone (not joined to the user's secret).
    let forged = jwt(
        SERVER_SECRET.as_bytes(),
        &a.to_string(),
        "access_token",
        far,
    );
    expect_login_refused(&h, login_frame(a, &forged)).await;
    // A refresh token.
    let refresh = h
        .engine
        .auth()
        .issue(a, Grant::Refresh)
        .await
        .unwrap()
        .token;
    expect_login_refused(&h, login_frame(a, &refresh)).await;
    // Another user's valid token.
    let token_b = h.token(b).await;
    expect_login_refused(&h, login_frame(a, &token_b)).await;
    // A token for a user that does not exist.
    let ghost = jwt(b"x", "12345", "access_token", far);
    expect_login_refused(&h, login_frame(12345, &ghost)).await;

    assert_eq!(h.engine.online(a), 0);
    // The user's own token still works.
    h.login(a).await;
}

#[tokio::test]
async fn an_expired_token_is_e_auth_and_closes() {
    let h = Harness::new();
    let a = h.user().await;
    // A second authority on the same keys whose access tokens live 0 seconds.
    let storage: Arc<dyn Storage> = h.storage.clone();
    let short = JwtAuth::new(storage, SERVER_SECRET, 0, 0);
    let token = easyim_core::Auth::issue(&short, a, Grant::Access)
        .await
        .unwrap()
        .token;
    // `exp` has a one-second resolution and no leeway: it is past after at most a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_login_refused(&h, login_frame(a, &token)).await;
}

#[tokio::test(start_paused = true)]
async fn no_login_frame_within_auth_timeout_closes_silently() {
    let h = Harness::with_config(EngineConfig {
        auth_timeout: Duration::from_secs(10),
        // Before login only AUTH_TIMEOUT applies.
        idle_timeout: Duration::from_secs(3),
        ..EngineConfig::default()
    });
    let mut c = h.connect();
    let t0 = tokio::time::Instant::now();
    assert!(
        c.try_recv_within(Duration::from_millis(9900))
            .await
            .is_none(),
        "closed or answered before AUTH_TIMEOUT"
    );
    assert_eq!(c.try_recv_within(Duration::from_secs(1)).await, Some(None));
    assert!(t0.elapsed() >= Duration::from_secs(10));
    c.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn end_of_stream_before_login_closes() {
    let h = Harness::new();
    let mut c = h.connect();
    c.close();
    c.expect_closed().await;
}

// ---- after login: heartbeat, idle, end of stream ------------------------------------------

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

// ---- errors after login that keep the connection -----------------------------------------

#[tokio::test(start_paused = true)]
async fn a_spoofed_sender_is_e_auth_and_the_connection_stays() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    ca.send(chat(b, b, ChatType::Single, "x", 5, "I am b"));
    ca.expect_error("E_AUTH", "x", 5).await;
    ca.send(chat(b, a, ChatType::Single, "y", 6, "I am b"));
    ca.expect_error("E_AUTH", "y", 6).await;
    cb.expect_nothing().await;
    // Still logged in and working.
    ca.send_acked(ca.chat(b, ChatType::Single, "z", 7, "hi"))
        .await;
    assert_delivery(&cb.recv().await, a, "hi");
}

#[tokio::test(start_paused = true)]
async fn rule_breaking_messages_are_e_bad_msg_and_the_connection_stays() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;

    let mut notify = ca.chat(b, ChatType::Single, "n", 1, "hello");
    notify.msg_type = MsgType::Notify as i32;
    ca.send(notify);
    ca.expect_error("E_BAD_MSG", "n", 1).await;

    let mut event = ca.heartbeat("e", 2);
    event.to_user_id = "NO_SUCH_EVENT".into();
    ca.send(event);
    ca.expect_error("E_BAD_MSG", "e", 2).await;

    ca.send(ca.chat(b, ChatType::Single, "empty", 3, ""));
    ca.expect_error("E_BAD_MSG", "empty", 3).await;

    let mut unknown = ca.chat(b, ChatType::Single, "t", 4, "hello");
    unknown.msg_type = 42;
    ca.send(unknown);
    ca.expect_error("E_BAD_MSG", "t", 4).await;

    let mut unknown = ca.chat(b, ChatType::Single, "c", 5, "hello");
    unknown.chat_type = 7;
    ca.send(unknown);
    ca.expect_error("E_BAD_MSG", "c", 5).await;

    ca.send(ca.chat(a, ChatType::Single, "self", 6, "me"));
    ca.expect_error("E_BAD_MSG", "self", 6).await;

    ca.send(ca.chat(b, ChatType::Single, &"x".repeat(129), 7, "long id"));
    ca.expect_error("E_BAD_MSG", &"x".repeat(129), 7).await;

    cb.expect_nothing().await;
    ca.send_acked(ca.chat(b, ChatType::Single, "ok", 8, "fine"))
        .await;
    assert_delivery(&cb.recv().await, a, "fine");
}

#[tokio::test(start_paused = true)]
async fn bad_recipients_are_e_no_user_e_no_group_e_not_member() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(b, &[c]).await;
    let mut ca = h.login(a).await;

    ca.send(ca.chat(999, ChatType::Single, "u1", 1, "hi"));
    ca.expect_error("E_NO_USER", "u1", 1).await;
    let mut m = ca.chat(0, ChatType::Single, "u2", 2, "hi");
    m.to_user_id = "bob".into();
    ca.send(m);
    ca.expect_error("E_NO_USER", "u2", 2).await;
    // A group id is no user.
    ca.send(ca.chat(group, ChatType::Single, "u3", 3, "hi"));
    ca.expect_error("E_NO_USER", "u3", 3).await;

    ca.send(ca.chat(999, ChatType::Group, "g1", 4, "hi"));
    ca.expect_error("E_NO_GROUP", "g1", 4).await;
    // A user id is no group.
    ca.send(ca.chat(b, ChatType::Group, "g2", 5, "hi"));
    ca.expect_error("E_NO_GROUP", "g2", 5).await;

    ca.send(ca.chat(group, ChatType::Group, "g3", 6, "hi"));
    ca.expect_error("E_NOT_MEMBER", "g3", 6).await;

    ca.send(ca.heartbeat("hb", 7));
    assert_success(&ca.recv().await, a);
}

#[tokio::test(start_paused = true)]
async fn undecodable_and_oversized_frames_close_the_connection() {
    let h = Harness::new();
    let a = h.user().await;

    let mut c = h.login(a).await;
    c.send_raw(Err(CodecError::Undecodable {
        format: Format::Json,
        reason: "expected value".into(),
    }));
    c.expect_error("E_BAD_FRAME", "", 0).await;
    c.expect_closed().await;

    let mut c = h.login(a).await;
    c.send_raw(Err(CodecError::TooLarge {
        len: 1 << 20,
        max: 65536,
    }));
    c.expect_error("E_TOO_LARGE", "", 0).await;
    c.expect_closed().await;

    // Before login too (to_user_id empty).
    let mut c = h.connect();
    c.send_raw(Err(CodecError::Undecodable {
        format: Format::Protobuf,
        reason: "bad wire type".into(),
    }));
    c.expect_error("E_BAD_FRAME", "", 0).await;
    c.expect_closed().await;

    let mut c = h.connect();
    c.send_raw(Err(CodecError::TooLarge {
        len: 1 << 20,
        max: 65536,
    }));
    c.expect_error("E_TOO_LARGE", "", 0).await;
    c.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}

#[tokio::test(start_paused = true)]
async fn receipts_for_unknown_messages_are_e_no_msg() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b]).await;
    let mut ca = h.login(a).await;
    let mut cb = h.login(b).await;
    let mut cc = h.login(c).await;
    ca.send_acked(ca.chat(b, ChatType::Single, "m1", 1, "hi"))
        .await;
    ca.send_acked(ca.chat(group, ChatType::Group, "g1", 2, "all"))
        .await;
    cb.recv().await;
    cb.recv().await;

    // No such id in the conversation.
    cb.send(cb.receipt(a, ChatType::Single, "nope", MsgStatus::Arrived));
    cb.expect_error("E_NO_MSG", "nope", 0).await;
    // The right id, but in another conversation (b and c).
    cb.send(cb.receipt(c, ChatType::Single, "m1", MsgStatus::Read));
    cb.expect_error("E_NO_MSG", "m1", 0).await;
    // Its own message.
    ca.send(ca.receipt(b, ChatType::Single, "m1", MsgStatus::Arrived));
    ca.expect_error("E_NO_MSG", "m1", 0).await;
    ca.send(ca.receipt(group, ChatType::Group, "g1", MsgStatus::Read));
    ca.expect_error("E_NO_MSG", "g1", 0).await;
    // Not a member of the group.
    cc.send(cc.receipt(group, ChatType::Group, "g1", MsgStatus::Arrived));
    cc.expect_error("E_NO_MSG", "g1", 0).await;
    // No id.
    cb.send(cb.receipt(a, ChatType::Single, "", MsgStatus::Arrived));
    cb.expect_error("E_NO_MSG", "", 0).await;
    ca.expect_nothing().await;

    // The connections stay.
    cb.send(cb.receipt(a, ChatType::Single, "m1", MsgStatus::Arrived));
    assert_eq!(ca.recv().await.status, MsgStatus::Arrived as i32);
}

#[tokio::test(start_paused = true)]
async fn frames_over_the_rate_limit_are_dropped_with_e_rate_limit() {
    let h = Harness::with_config(EngineConfig {
        rate_limit: 5,
        ..EngineConfig::default()
    });
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    // Paused time stands still while the session works, so all 8 arrive in the same instant.
    for seq in 1..=8 {
        ca.send(ca.chat(b, ChatType::Single, &format!("m{seq}"), seq, "hi"));
    }
    for seq in 1..=5 {
        assert_ack(&ca.recv().await, seq);
    }
    for seq in 6..=8 {
        ca.expect_error("E_RATE_LIMIT", &format!("m{seq}"), seq)
            .await;
    }
    for seq in 1..=5u64 {
        assert_eq!(cb.recv().await.conv_seq, seq);
    }
    cb.expect_nothing().await;
    // The bucket refills: a second later the dropped frames go through.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for seq in 6..=8 {
        let ack = ca
            .send_acked(ca.chat(b, ChatType::Single, &format!("m{seq}"), seq, "hi"))
            .await;
        assert_eq!(ack.conv_seq, u64::from(seq));
    }
}

#[tokio::test(start_paused = true)]
async fn a_storage_failure_is_e_internal_nothing_is_acked_and_a_resend_works() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    h.storage.fail_messages(true);
    ca.send(ca.chat(b, ChatType::Single, "m1", 1, "hi"));
    ca.expect_error("E_INTERNAL", "m1", 1).await;
    ca.send(ca.chat(b, ChatType::Single, "", 2, "hi"));
    ca.expect_error("E_INTERNAL", "", 2).await;
    ca.expect_nothing().await;
    cb.expect_nothing().await;

    h.storage.fail_messages(false);
    let ack = ca
        .send_acked(ca.chat(b, ChatType::Single, "m1", 3, "hi"))
        .await;
    assert_eq!(
        ack.conv_seq, 1,
        "the failed attempt must not have used a conv_seq"
    );
    let m = cb.recv().await;
    assert_delivery(&m, a, "hi");
    assert_eq!((m.id.as_str(), m.conv_seq), ("m1", 1));
    cb.expect_nothing().await;
}

// ---- errors that close from outside -------------------------------------------------------

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

// ---- messages, acks, delivery -------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn acks_carry_sent_id_timestamp_conv_seq_and_seq() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    let before = easyim_core::now_ms() as i64;
    for (i, seq) in [(1u64, 70u32), (2, 71), (3, 90)] {
        let mut m = ca.chat(b, ChatType::Single, &format!("c-{i}"), seq, "hi");
        // Clients cannot set what the server assigns, nor get their token back.
        m.access_token = "secret".into();
        m.timestamp = 1;
        m.conv_seq = 1000;
        let ack = ca.send_acked(m).await;
        assert_eq!(ack.conv_seq, i);
        assert!(ack.timestamp >= before, "{ack:?}");
        assert_eq!(ack.to_user_id, b.to_string());
        assert_eq!(ack.from_user_id, a.to_string());
        assert_eq!(ack.content, "hi");
        let d = cb.recv().await;
        assert_delivery(&d, a, "hi");
        assert_eq!(
            (d.id.clone(), d.conv_seq, d.timestamp),
            (ack.id, i, ack.timestamp)
        );
    }
    // An empty id gets a server snowflake.
    let ack = ca
        .send_acked(ca.chat(b, ChatType::Single, "", 91, "hi"))
        .await;
    assert!(ack.id.parse::<u64>().is_ok_and(|id| id > 0), "{ack:?}");
    assert_eq!(ack.conv_seq, 4);
    assert_eq!(cb.recv().await.id, ack.id);
    // The other direction continues the same conversation.
    let ack = cb
        .send_acked(cb.chat(a, ChatType::Single, "r", 1, "yo"))
        .await;
    assert_eq!(ack.conv_seq, 5);
    assert_eq!(ca.recv().await.conv_seq, 5);
}

#[tokio::test(start_paused = true)]
async fn a_resent_id_is_acked_again_and_not_delivered_twice() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    let mut cc = h.login(c).await;

    let first = ca
        .send_acked(ca.chat(b, ChatType::Single, "same", 1, "hi"))
        .await;
    cb.recv().await;
    let again = ca
        .send_acked(ca.chat(b, ChatType::Single, "same", 2, "hi again"))
        .await;
    assert_eq!(
        (&again.id, again.timestamp, again.conv_seq, &again.content),
        (&first.id, first.timestamp, first.conv_seq, &first.content)
    );
    assert_eq!(again.seq, 2);
    cb.expect_nothing().await;

    // Another sender reusing the id in the same conversation.
    cb.send(cb.chat(a, ChatType::Single, "same", 9, "mine"));
    cb.expect_error("E_BAD_MSG", "same", 9).await;
    ca.expect_nothing().await;
    // The same id in another conversation is fine.
    cc.send_acked(cc.chat(b, ChatType::Single, "same", 1, "other conv"))
        .await;
    assert_delivery(&cb.recv().await, c, "other conv");

    // Groups too.
    let g1 = ca
        .send_acked(ca.chat(group, ChatType::Group, "g", 3, "all"))
        .await;
    cb.recv().await;
    cc.recv().await;
    let g2 = ca
        .send_acked(ca.chat(group, ChatType::Group, "g", 4, "all"))
        .await;
    assert_eq!((g1.conv_seq, g1.timestamp), (g2.conv_seq, g2.timestamp));
    cc.send(cc.chat(group, ChatType::Group, "g", 1, "mine"));
    cc.expect_error("E_BAD_MSG", "g", 1).await;
    cb.expect_nothing().await;
    cc.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn delivery_reaches_every_device_but_the_sending_one() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut b1 = h.login(b).await;
    let mut b2 = h.login(b).await;
    assert_eq!((h.engine.online(a), h.engine.online(b)), (2, 2));
    let ack = a1
        .send_acked(a1.chat(b, ChatType::Single, "m", 1, "hi"))
        .await;
    for c in [&mut b1, &mut b2, &mut a2] {
        let d = c.recv().await;
        assert_delivery(&d, a, "hi");
        assert_eq!((d.id.as_str(), d.conv_seq), ("m", ack.conv_seq));
        assert_eq!(d.to_user_id, b.to_string());
        assert_eq!(d.seq, 0, "the sender's seq is its own: {d:?}");
    }
    a1.expect_nothing().await;
    b1.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn a_group_message_reaches_every_member_but_the_sender() {
    let h = Harness::new();
    let owner = h.user().await;
    let members = [h.user().await, h.user().await, h.user().await];
    let outsider = h.user().await;
    let group = h.group(owner, &members).await;
    let mut sender = h.login(owner).await;
    let mut sender2 = h.login(owner).await;
    let mut conns = Vec::new();
    for &m in &members {
        conns.push(h.login(m).await);
    }
    let mut out = h.login(outsider).await;
    let ack = sender
        .send_acked(sender.chat(group, ChatType::Group, "g1", 1, "hello all"))
        .await;
    assert_eq!(ack.conv_seq, 1);
    for c in conns.iter_mut().chain([&mut sender2]) {
        let d = c.recv().await;
        assert_delivery(&d, owner, "hello all");
        assert_eq!(d.to_user_id, group.to_string());
        assert_eq!(d.chat_type, ChatType::Group as i32);
        assert_eq!(d.conv_seq, 1);
    }
    sender.expect_nothing().await;
    out.expect_nothing().await;
    // A member answers: the owner's two devices get it, the answering member does not.
    let answer = conns[0].chat(group, ChatType::Group, "g2", 1, "hi owner");
    let ack = conns[0].send_acked(answer).await;
    assert_eq!(ack.conv_seq, 2);
    let (first, rest) = conns.split_at_mut(1);
    for c in [&mut sender, &mut sender2]
        .into_iter()
        .chain(rest.iter_mut())
    {
        assert_eq!(c.recv().await.conv_seq, 2);
    }
    first[0].expect_nothing().await;
}

// ---- receipts and pending messages --------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn receipts_are_forwarded_to_the_senders_connections() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut cb = h.login(b).await;
    let mut cc = h.login(c).await;
    a1.send_acked(a1.chat(b, ChatType::Single, "m1", 1, "hi"))
        .await;
    a2.recv().await;
    cb.recv().await;

    let before = easyim_core::now_ms() as i64;
    for status in [MsgStatus::Arrived, MsgStatus::Read] {
        cb.send(cb.receipt(a, ChatType::Single, "m1", status));
        for c in [&mut a1, &mut a2] {
            let r = c.recv().await;
            assert_eq!(r.id, "m1");
            assert_eq!(r.status, status as i32);
            assert_eq!(r.from_user_id, b.to_string());
            assert_eq!(r.to_user_id, a.to_string());
            assert_eq!(r.chat_type, ChatType::Single as i32);
            assert_eq!(r.msg_type, MsgType::Text as i32);
            assert!(r.timestamp >= before, "{r:?}");
        }
        // Receipts are not acked.
        cb.expect_nothing().await;
    }

    // Group: forwarded to the original sender with the reader as from_user_id.
    a1.send_acked(a1.chat(group, ChatType::Group, "g1", 2, "all"))
        .await;
    a2.recv().await;
    cb.recv().await;
    cc.recv().await;
    cc.send(cc.receipt(group, ChatType::Group, "g1", MsgStatus::Read));
    for conn in [&mut a1, &mut a2] {
        let r = conn.recv().await;
        assert_eq!((r.id.as_str(), r.status), ("g1", MsgStatus::Read as i32));
        assert_eq!(r.from_user_id, c.to_string());
        assert_eq!(r.to_user_id, a.to_string());
        assert_eq!(r.chat_type, ChatType::Group as i32);
        assert!(r.timestamp > 0);
    }
    cb.expect_nothing().await;
    cc.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn pending_messages_are_replayed_at_login_until_receipted() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut ca = h.login(a).await;
    for i in 1..=4u32 {
        ca.send_acked(ca.chat(
            b,
            ChatType::Single,
            &format!("m{i}"),
            i,
            &format!("text {i}"),
        ))
        .await;
    }
    // b was offline: everything comes at login, oldest first, on every connection.
    let mut b1 = h.login(b).await;
    let mut b2 = h.login(b).await;
    for c in [&mut b1, &mut b2] {
        for i in 1..=4u64 {
            let d = c.recv().await;
            assert_delivery(&d, a, &format!("text {i}"));
            assert_eq!((d.id.clone(), d.conv_seq), (format!("m{i}"), i));
        }
        c.expect_nothing().await;
    }
    // Not receipted: again at the next login.
    b1.close();
    b1.expect_closed().await;
    let mut b3 = h.login(b).await;
    for i in 1..=4u64 {
        assert_eq!(b3.recv().await.conv_seq, i);
    }
    // A cumulative receipt for message 3 covers 1..3; 4 still comes.
    b3.send(b3.receipt(a, ChatType::Single, "m3", MsgStatus::Arrived));
    let r = ca.recv().await;
    assert_eq!((r.id.as_str(), r.status), ("m3", MsgStatus::Arrived as i32));
    let mut b4 = h.login(b).await;
    let d = b4.recv().await;
    assert_eq!((d.id.as_str(), d.conv_seq), ("m4", 4));
    b4.expect_nothing().await;
    // READ implies ARRIVED: nothing is pending after it.
    b4.send(b4.receipt(a, ChatType::Single, "m4", MsgStatus::Read));
    assert_eq!(ca.recv().await.status, MsgStatus::Read as i32);
    // B's other connections learn of the read (read sync), the reading one does not.
    for c in [&mut b2, &mut b3] {
        let s = c.recv().await;
        assert_eq!(
            (s.status, s.from_user_id.as_str(), s.id.as_str(), s.conv_seq),
            (MsgStatus::Read as i32, b.to_string().as_str(), "m4", 4)
        );
    }
    let mut b5 = h.login(b).await;
    b5.expect_nothing().await;
    // An older receipt does not move the cursor back.
    b5.send(b5.receipt(a, ChatType::Single, "m1", MsgStatus::Arrived));
    ca.recv().await;
    let mut b6 = h.login(b).await;
    b6.expect_nothing().await;
    // A new message is pending again, and only it.
    ca.send_acked(ca.chat(b, ChatType::Single, "m5", 5, "text 5"))
        .await;
    for c in [&mut b2, &mut b4, &mut b5, &mut b6] {
        assert_eq!(c.recv().await.conv_seq, 5);
    }
    let mut b7 = h.login(b).await;
    assert_eq!(b7.recv().await.id, "m5");
    b7.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn pending_group_messages_are_replayed_per_member() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut ca = h.login(a).await;
    for i in 1..=3u32 {
        ca.send_acked(ca.chat(group, ChatType::Group, &format!("g{i}"), i, "x"))
            .await;
    }
    let mut cb = h.login(b).await;
    for i in 1..=3u64 {
        assert_eq!(cb.recv().await.conv_seq, i);
    }
    cb.send(cb.receipt(group, ChatType::Group, "g2", MsgStatus::Read));
    ca.recv().await;
    // b's receipt does not cover c.
    let mut cc = h.login(c).await;
    for i in 1..=3u64 {
        assert_eq!(cc.recv().await.conv_seq, i);
    }
    let mut cb2 = h.login(b).await;
    assert_eq!(cb2.recv().await.conv_seq, 3);
    cb2.expect_nothing().await;
    // The sender's own messages are never pending for it.
    let mut ca2 = h.login(a).await;
    ca2.expect_nothing().await;
}

// ---- order and back-pressure --------------------------------------------------------------

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
