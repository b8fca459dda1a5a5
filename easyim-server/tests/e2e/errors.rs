//! Errors (protocol.md section 6).

use super::*;

#[tokio::test]
async fn first_frame_errors_close_the_connection() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;

    // E_FIRST_MSG: a chat message first.
    let mut c = Client::connect(srv.im, Kind::Lines).await;
    c.send(&text(&alice, &bob.id, ChatType::Single, "x", 3, "hi"))
        .await;
    c.expect_error_then_close("E_FIRST_MSG", "x", 3).await;

    // E_AUTH: a bad token; a valid token of another user.
    let mut c = Client::connect(srv.im, Kind::FramedProto).await;
    let mut m = login_msg(&alice);
    m.access_token = "aa.bbb.cc".into();
    c.send(&m).await;
    let e = c.recv().await;
    assert_error(&e, "E_AUTH", "login", 1);
    assert_eq!(e.to_user_id, "");
    c.expect_closed().await;

    let mut c = Client::connect(srv.im, Kind::WsText).await;
    let mut m = login_msg(&alice);
    m.access_token = bob.token.clone();
    c.send(&m).await;
    c.expect_error_then_close("E_AUTH", "login", 1).await;

    // A garbage protobuf first frame.
    let mut c = Client::connect(srv.im, Kind::FramedProto).await;
    c.send_frame(&[0xff, 0xff, 0xff, 0xff]).await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn spoofed_sender_after_login_is_refused_and_kept() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login(srv.im, Kind::FramedJson, &alice).await;
    let mut b = Client::login(srv.im, Kind::FramedProto, &bob).await;
    a.send(&text(&bob, &alice.id, ChatType::Single, "s-1", 11, "spoof"))
        .await;
    let e = a.recv().await;
    assert_error(&e, "E_AUTH", "s-1", 11);
    assert_eq!(e.to_user_id, alice.id);
    a.assert_alive(&alice).await;
    // Nothing reached anybody: bob's next frame is his heartbeat answer.
    b.assert_alive(&bob).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn bad_frames_close_the_connection() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;

    // Garbage protobuf after login.
    let mut c = Client::login(srv.im, Kind::FramedProto, &alice).await;
    c.send_frame(&[0x0a, 0xff, 0xff, 0xff, 0xff]).await;
    let e = c.recv().await;
    assert_error(&e, "E_BAD_FRAME", "", 0);
    assert_eq!(e.to_user_id, alice.id);
    c.expect_closed().await;

    // JSON with a value of the wrong type, in a frame and in a line.
    let mut c = Client::login(srv.im, Kind::FramedJson, &alice).await;
    c.send_frame(br#"{"seq":"7","content":"x"}"#).await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    let mut c = Client::login(srv.im, Kind::Lines, &alice).await;
    c.send_raw(b"{\"chat_type\":[1]}\n").await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;

    // WebSocket: a text message that is not JSON.
    let mut c = Client::login(srv.im, Kind::WsText, &alice).await;
    c.send_ws(WsMessage::text("not json")).await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn msg_format_json_refuses_protobuf() {
    let srv = start(&[("MSG_FORMAT", "json")]).await;
    let alice = srv.user("alice").await;
    let mut c = Client::connect(srv.im, Kind::FramedProto).await;
    c.send(&login_msg(&alice)).await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    // After a JSON login, a protobuf frame is refused too.
    let mut c = Client::login(srv.im, Kind::FramedJson, &alice).await;
    c.send_frame(&protobuf(&heartbeat(&alice, 2))).await;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    // And a WebSocket binary message.
    let mut c = Client::login(srv.im, Kind::WsText, &alice).await;
    c.send_ws(WsMessage::binary(protobuf(&heartbeat(&alice, 2))))
        .await;
    c.kind = Kind::WsBinary;
    c.expect_error_then_close("E_BAD_FRAME", "", 0).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn too_large_payloads_close_the_connection() {
    let srv = start(&[("MAX_FRAME_BYTES", "1024")]).await;
    let alice = srv.user("alice").await;

    // A length header over the limit, before login: refused from the header alone.
    let mut c = Client::connect(srv.im, Kind::FramedProto).await;
    c.send_raw(&1025u32.to_be_bytes()).await;
    c.expect_error_then_close("E_TOO_LARGE", "", 0).await;
    // The same after login; a huge length is not buffered.
    let mut c = Client::login(srv.im, Kind::FramedProto, &alice).await;
    c.send_raw(&0x00ff_ffffu32.to_be_bytes()).await;
    let e = c.recv().await;
    assert_error(&e, "E_TOO_LARGE", "", 0);
    assert_eq!(e.to_user_id, alice.id);
    c.expect_closed().await;

    // A JSON line over the limit (no newline in the first 1025 bytes).
    let mut c = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut line = b"{\"content\":\"".to_vec();
    line.resize(1025, b'x');
    c.send_raw(&line).await;
    c.expect_error_then_close("E_TOO_LARGE", "", 0).await;

    // A WebSocket message over the limit, text and binary.
    for kind in [Kind::WsText, Kind::WsBinary] {
        let mut c = Client::login(srv.im, kind, &alice).await;
        let mut m = heartbeat(&alice, 3);
        m.content = "y".repeat(1100);
        c.send(&m).await;
        c.expect_error_then_close("E_TOO_LARGE", "", 0).await;
    }
    // A payload exactly at the limit is fine.
    let mut c = Client::login(srv.im, Kind::FramedJson, &alice).await;
    let mut m = heartbeat(&alice, 4);
    let base = json_bytes(&m).len();
    m.content.push_str(&"z".repeat(1024 - base));
    assert_eq!(json_bytes(&m).len(), 1024);
    c.send(&m).await;
    assert_eq!(c.recv().await.seq, 4);
    srv.shutdown().await;
}

#[tokio::test]
async fn rule_errors_keep_the_connection() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let bobs_group = create_group(srv.api, &bob, &[&carol]).await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut b = Client::login(srv.im, Kind::Lines, &bob).await;

    let mut notify = text(&alice, &bob.id, ChatType::Single, "n-1", 1, "x");
    notify.msg_type = MsgType::Notify as i32;
    let mut unknown_event = heartbeat(&alice, 2);
    unknown_event.to_user_id = "NO_SUCH_EVENT".into();
    unknown_event.id = "ev".into();
    let cases: Vec<(Msg, &str)> = vec![
        (notify, "E_BAD_MSG"),
        (unknown_event, "E_BAD_MSG"),
        (
            text(&alice, &bob.id, ChatType::Single, "e-1", 3, ""),
            "E_BAD_MSG",
        ),
        (
            text(&alice, "123456789", ChatType::Single, "u-1", 4, "x"),
            "E_NO_USER",
        ),
        (
            text(&alice, "987654321", ChatType::Group, "g-1", 5, "x"),
            "E_NO_GROUP",
        ),
        (
            text(&alice, &bobs_group, ChatType::Group, "m-1", 6, "x"),
            "E_NOT_MEMBER",
        ),
        (
            receipt(&alice, &bob.id, ChatType::Single, "nope", MsgStatus::Read),
            "E_NO_MSG",
        ),
    ];
    for (m, code) in &cases {
        a.send(m).await;
        let e = a.recv().await;
        assert_error(&e, code, &m.id, m.seq);
        assert_eq!(e.to_user_id, alice.id);
    }
    a.assert_alive(&alice).await;

    // A receipt for one's own message is E_NO_MSG.
    a.send(&text(&alice, &bob.id, ChatType::Single, "own", 7, "mine"))
        .await;
    assert_eq!(a.recv().await.conv_seq, 1);
    assert_eq!(b.recv().await.id, "own");
    a.send(&receipt(
        &alice,
        &bob.id,
        ChatType::Single,
        "own",
        MsgStatus::Arrived,
    ))
    .await;
    assert_error(&a.recv().await, "E_NO_MSG", "own", 0);
    // An id another sender already used in the conversation is E_BAD_MSG.
    b.send(&text(
        &bob,
        &alice.id,
        ChatType::Single,
        "own",
        2,
        "mine too",
    ))
    .await;
    assert_error(&b.recv().await, "E_BAD_MSG", "own", 2);
    b.assert_alive(&bob).await;
    a.assert_alive(&alice).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn rate_limit_drops_the_burst_and_keeps_the_connection() {
    let srv = start(&[("RATE_LIMIT", "5")]).await;
    let alice = srv.user("alice").await;
    let mut c = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut burst = Vec::new();
    for seq in 1..=20 {
        burst.extend(json_bytes(&heartbeat(&alice, seq)));
        burst.push(b'\n');
    }
    c.send_raw(&burst).await;
    let (mut ok, mut limited) = (0, 0);
    for seq in 1..=20 {
        let m = c.recv().await;
        assert_eq!(m.seq, seq, "answers in order: {m:?}");
        if m.msg_type == MsgType::Notify as i32 {
            assert_error(&m, "E_RATE_LIMIT", &format!("hb-{seq}"), seq);
            limited += 1;
        } else {
            assert_success(&m, &alice);
            ok += 1;
        }
    }
    assert!(ok >= 5, "the burst of 5 passes: {ok} passed");
    assert!(limited >= 1, "some of the 20 are dropped");
    // Kept: after the bucket refills, frames pass again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.assert_alive(&alice).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_dropped() {
    let srv = start(&[("SERVER_DROP_AFTER", "1")]).await;
    let alice = srv.user("alice").await;
    let mut c = Client::login(srv.im, Kind::FramedJson, &alice).await;
    let t0 = Instant::now();
    let e = c.recv().await;
    assert_error(&e, "E_IDLE", "", 0);
    assert_eq!(e.to_user_id, alice.id);
    c.expect_closed().await;
    assert!(t0.elapsed() < Duration::from_secs(8));
    srv.shutdown().await;
}

/// Reads until the server closes; panics if it takes longer than `limit`.
async fn closed_within(mut s: TcpStream, limit: Duration) {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("closed in time");
}

#[tokio::test]
async fn auth_timeout_closes_silent_and_slowloris_connections() {
    let srv = start(&[("AUTH_TIMEOUT", "1")]).await;
    let limit = Duration::from_secs(7); // 1 s, plus a big margin for a loaded machine
    let t0 = Instant::now();
    // Silent.
    let silent = TcpStream::connect(srv.im).await.unwrap();
    let silent = tokio::spawn(closed_within(silent, limit));
    // One byte a second: framed, JSON lines, HTTP.
    let mut drips = Vec::new();
    for first in [
        &b"\x00\x00\x00\x40"[..],
        b"{\"msg_type\":4",
        b"GET / HTTP/1.1\r\n",
    ] {
        let s = TcpStream::connect(srv.im).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let bytes = first.to_vec();
        let writer = tokio::spawn(async move {
            for b in bytes {
                if w.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        drips.push(tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            tokio::time::timeout(limit, async {
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await
            .expect("a slowloris connection is closed in time");
            writer.abort();
        }));
    }
    silent.await.unwrap();
    for d in drips {
        d.await.unwrap();
    }
    assert!(t0.elapsed() < limit + Duration::from_secs(1));
    srv.shutdown().await;
}

#[tokio::test]
async fn logout_revokes_live_connections() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut a2 = Client::login(srv.api, Kind::WsText, &alice).await;
    let mut b = Client::login(srv.im, Kind::Lines, &bob).await;
    let (status, body) = http(
        srv.api,
        "POST",
        "/api/user/logout",
        Some(&json!({"access_token": alice.token})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for c in [&mut a1, &mut a2] {
        let e = c.recv().await;
        assert_error(&e, "E_AUTH_REVOKED", "", 0);
        assert_eq!(e.to_user_id, alice.id);
        c.expect_closed().await;
    }
    // The old token no longer logs in; bob is untouched.
    let mut c = Client::connect(srv.im, Kind::FramedJson).await;
    c.send(&login_msg(&alice)).await;
    c.expect_error_then_close("E_AUTH", "login", 1).await;
    b.assert_alive(&bob).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn stop_sends_e_shutdown() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let mut c1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut c2 = Client::login(srv.api, Kind::WsBinary, &alice).await;
    let stopping = tokio::spawn(srv.shutdown());
    for c in [&mut c1, &mut c2] {
        let e = c.recv().await;
        assert_error(&e, "E_SHUTDOWN", "", 0);
        assert_eq!(e.to_user_id, alice.id);
        c.expect_closed().await;
    }
    let dir = stopping.await.unwrap();
    // Nothing listens any more.
    drop(dir);
}

#[tokio::test]
async fn max_connections_closes_the_extra_one() {
    let srv = start(&[("MAX_CONNECTIONS", "3")]).await;
    let users = [
        srv.user("u1").await,
        srv.user("u2").await,
        srv.user("u3").await,
    ];
    // The HTTP connections above release their slots when they end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut conns = Vec::new();
    for (u, kind) in users
        .iter()
        .zip([Kind::FramedProto, Kind::Lines, Kind::WsText])
    {
        conns.push(Client::login(srv.im, kind, u).await);
    }
    let mut extra = Client::connect(srv.im, Kind::FramedProto).await;
    extra.expect_closed().await;
    // Over the cap on the API port too.
    let mut s = TcpStream::connect(srv.api).await.unwrap();
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await;
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    for (c, u) in conns.iter_mut().zip(&users) {
        c.assert_alive(u).await;
    }
    // A freed slot is usable again.
    drop(conns.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = Client::login(srv.im, Kind::FramedJson, &users[2]).await;
    again.assert_alive(&users[2]).await;
    srv.shutdown().await;
}
