//! Errors after login that keep the connection.

use super::*;

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
