//! The `easyim` server end to end over real sockets: every transport of the IM port, the error
//! rows of protocol.md section 6, restarts on the same folder, and the `easyim` binary itself.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

// ---- transports ------------------------------------------------------------------------

#[tokio::test]
async fn every_transport_logs_in_and_heartbeats() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    for kind in [
        Kind::FramedProto,
        Kind::FramedJson,
        Kind::Lines,
        Kind::WsText,
        Kind::WsBinary,
    ] {
        let mut c = Client::login(srv.im, kind, &u).await;
        c.send(&heartbeat(&u, 5)).await;
        let m = c.recv().await;
        assert_success(&m, &u);
        assert_eq!((m.id.as_str(), m.seq), ("hb-5", 5), "{kind:?}");
        assert!(m.access_token.is_empty());
    }
    // WebSocket on any path of the IM port, and on the API port.
    for (addr, path) in [
        (srv.im, "/some/where?x=1"),
        (srv.api, "/"),
        (srv.api, "/ws"),
    ] {
        for kind in [Kind::WsText, Kind::WsBinary] {
            let mut c = Client::connect_path(addr, kind, path).await;
            c.send(&login_msg(&u)).await;
            assert_success(&c.recv().await, &u);
            c.assert_alive(&u).await;
        }
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn framed_answers_in_the_first_frames_format() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    // First frame JSON: a later protobuf frame is still answered in JSON.
    let mut c = Client::login(srv.im, Kind::FramedJson, &u).await;
    c.send_frame(&protobuf(&heartbeat(&u, 2))).await;
    let m = c.recv().await; // `recv` checks the answer is JSON
    assert_success(&m, &u);
    assert_eq!(m.seq, 2);
    // And the other way round.
    let mut c = Client::login(srv.im, Kind::FramedProto, &u).await;
    c.send_frame(&json_bytes(&heartbeat(&u, 3))).await;
    let m = c.recv().await;
    assert_success(&m, &u);
    assert_eq!(m.seq, 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn json_lines_accept_lf_and_crlf_and_enum_names() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    let mut c = Client::connect(srv.im, Kind::Lines).await;
    // The login as the original documents it, `\n` terminated, enum by name.
    let line = format!(
        "{{\"msg_type\":\"EVENT\",\"to_user_id\":\"KEEP_ALIVE\",\"from_user_id\":\"{}\",\
         \"access_token\":\"{}\",\"content\":\"1.2.3.4\",\"seq\":4}}\n",
        u.id, u.token
    );
    c.send_raw(line.as_bytes()).await;
    let m = c.recv().await;
    assert_success(&m, &u);
    assert_eq!(m.seq, 4);
    // `\r\n` (what `send` uses), and a line split across writes.
    let hb = json_bytes(&heartbeat(&u, 6));
    c.send_raw(&hb[..5]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send_raw(&hb[5..]).await;
    c.send_raw(b"\r\n").await;
    assert_eq!(c.recv().await.seq, 6);
    c.assert_alive(&u).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn websocket_answers_in_the_kind_last_used_and_pongs() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    let mut c = Client::login(srv.im, Kind::WsText, &u).await;
    c.send_ws(WsMessage::Ping(b"are you there".to_vec().into()))
        .await;
    match c.recv_ws_raw().await {
        WsMessage::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // A binary heartbeat is answered in binary, then text again.
    c.send_ws(WsMessage::binary(protobuf(&heartbeat(&u, 8))))
        .await;
    c.kind = Kind::WsBinary;
    assert_eq!(c.recv().await.seq, 8);
    c.kind = Kind::WsText;
    c.assert_alive(&u).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn http_api_on_the_im_port() {
    let srv = start(&[]).await;
    let u = register(srv.im, "via-im-port").await;
    let (status, body) = http(srv.im, "GET", "/healthz", None).await;
    assert_eq!((status, body["data"]["status"].as_str()), (200, Some("ok")));
    let (status, body) = http(srv.im, "GET", "/no/such/route", None).await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(404)));
    // The account made on the IM port logs in there too.
    let mut c = Client::login(srv.im, Kind::FramedProto, &u).await;
    c.assert_alive(&u).await;
    srv.shutdown().await;
}

// ---- messages --------------------------------------------------------------------------

#[tokio::test]
async fn one_to_one_ack_delivery_sync_and_receipts_across_transports() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut a2 = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;

    let mut m = text(&alice, &bob.id, ChatType::Single, "c-1", 7, "hi bob");
    m.access_token = "ignored".into();
    m.timestamp = 42;
    m.conv_seq = 99;
    a1.send(&m).await;
    let ack = a1.recv().await;
    assert_eq!(ack.id, "c-1");
    assert_eq!(ack.seq, 7);
    assert_eq!(ack.status, MsgStatus::Sent as i32);
    assert_eq!(ack.conv_seq, 1);
    assert!(ack.timestamp > 1_600_000_000_000, "{ack:?}");
    assert!(ack.access_token.is_empty());
    assert_eq!(
        (ack.from_user_id.as_str(), ack.to_user_id.as_str()),
        (alice.id.as_str(), bob.id.as_str())
    );
    for c in [&mut b, &mut a2] {
        let d = c.recv().await;
        assert_eq!(
            (d.id.as_str(), d.content.as_str()),
            ("c-1", "hi bob"),
            "{d:?}"
        );
        assert_eq!(d.from_user_id, alice.id);
        assert_eq!(d.to_user_id, bob.id);
        assert_eq!(d.msg_type, MsgType::Text as i32);
        assert_eq!(d.status, MsgStatus::Sent as i32);
        assert_eq!((d.conv_seq, d.timestamp), (1, ack.timestamp));
        assert!(d.access_token.is_empty());
    }

    // An idempotent resend: the stored ack again, with the new seq, and no second delivery.
    let resend = text(&alice, &bob.id, ChatType::Single, "c-1", 8, "hi bob");
    a1.send(&resend).await;
    let ack2 = a1.recv().await;
    assert_eq!(
        (ack2.id.as_str(), ack2.seq, ack2.conv_seq, ack2.timestamp),
        ("c-1", 8, 1, ack.timestamp)
    );

    // An empty id: the server assigns one. Bob answers from another transport.
    a1.send(&text(&alice, &bob.id, ChatType::Single, "", 9, "second"))
        .await;
    let ack3 = a1.recv().await;
    assert_eq!((ack3.seq, ack3.conv_seq), (9, 2));
    assert!(
        !ack3.id.is_empty() && ack3.id.bytes().all(|c| c.is_ascii_digit()),
        "{ack3:?}"
    );
    let d = b.recv().await; // the next one for bob is this, not the resend
    assert_eq!((d.id.as_str(), d.conv_seq), (ack3.id.as_str(), 2));
    assert_eq!(a2.recv().await.id, ack3.id);

    // Receipts: forwarded to every connection of the sender, not acked to the reader.
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        &ack3.id,
        MsgStatus::Arrived,
    ))
    .await;
    for c in [&mut a1, &mut a2] {
        let r = c.recv().await;
        assert_eq!(r.id, ack3.id);
        assert_eq!(r.status, MsgStatus::Arrived as i32);
        assert_eq!(
            (r.from_user_id.as_str(), r.to_user_id.as_str()),
            (bob.id.as_str(), alice.id.as_str())
        );
        assert_eq!(r.chat_type, ChatType::Single as i32);
        assert!(r.timestamp > 0);
    }
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "c-1",
        MsgStatus::Read,
    ))
    .await;
    for c in [&mut a1, &mut a2] {
        let r = c.recv().await;
        assert_eq!((r.id.as_str(), r.status), ("c-1", MsgStatus::Read as i32));
    }
    b.assert_alive(&bob).await;

    // Bob writes back over WebSocket; alice gets it on both devices.
    b.send(&text(
        &bob,
        &alice.id,
        ChatType::Single,
        "b-1",
        1,
        "hi alice",
    ))
    .await;
    let ack = b.recv().await;
    assert_eq!((ack.id.as_str(), ack.conv_seq), ("b-1", 3));
    for c in [&mut a1, &mut a2] {
        let d = c.recv().await;
        assert_eq!((d.id.as_str(), d.content.as_str()), ("b-1", "hi alice"));
        assert_eq!(d.from_user_id, bob.id);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn group_fan_out_and_receipts() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let group = create_group(srv.api, &alice, &[&bob, &carol]).await;
    let mut a = Client::login(srv.im, Kind::FramedJson, &alice).await;
    let mut b = Client::login(srv.im, Kind::WsBinary, &bob).await;
    let mut c = Client::login(srv.im, Kind::Lines, &carol).await;

    a.send(&text(
        &alice,
        &group,
        ChatType::Group,
        "g-1",
        1,
        "hello all",
    ))
    .await;
    let ack = a.recv().await;
    assert_eq!((ack.id.as_str(), ack.seq, ack.conv_seq), ("g-1", 1, 1));
    assert_eq!(ack.chat_type, ChatType::Group as i32);
    for (conn, _) in [(&mut b, &bob), (&mut c, &carol)] {
        let d = conn.recv().await;
        assert_eq!((d.id.as_str(), d.content.as_str()), ("g-1", "hello all"));
        assert_eq!(
            (d.from_user_id.as_str(), d.to_user_id.as_str()),
            (alice.id.as_str(), group.as_str())
        );
        assert_eq!((d.chat_type, d.conv_seq), (ChatType::Group as i32, 1));
    }
    // The sender's only connection gets no copy: its next answer is the heartbeat's.
    a.assert_alive(&alice).await;

    // Bob writes too: the same conversation, the next conv_seq.
    b.send(&text(&bob, &group, ChatType::Group, "g-2", 1, "hi"))
        .await;
    assert_eq!(b.recv().await.conv_seq, 2);
    assert_eq!(a.recv().await.id, "g-2");
    assert_eq!(c.recv().await.id, "g-2");

    // A group receipt reaches the original sender.
    c.send(&receipt(
        &carol,
        &group,
        ChatType::Group,
        "g-1",
        MsgStatus::Read,
    ))
    .await;
    let r = a.recv().await;
    assert_eq!(
        (r.id.as_str(), r.status, r.from_user_id.as_str()),
        ("g-1", MsgStatus::Read as i32, carol.id.as_str())
    );
    assert_eq!(r.chat_type, ChatType::Group as i32);
    c.assert_alive(&carol).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn pending_messages_are_delivered_at_the_next_login() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    for (i, id) in ["p-1", "p-2", "p-3"].iter().enumerate() {
        a.send(&text(
            &alice,
            &bob.id,
            ChatType::Single,
            id,
            i as u32,
            "while away",
        ))
        .await;
        assert_eq!(a.recv().await.conv_seq, i as u64 + 1);
    }
    // Bob logs in: SUCCESS, then the three, oldest first.
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;
    for (i, id) in ["p-1", "p-2", "p-3"].iter().enumerate() {
        let d = b.recv().await;
        assert_eq!((d.id.as_str(), d.conv_seq), (*id, i as u64 + 1));
    }
    // Not receipted: pushed again at the next login, on every connection.
    drop(b);
    let mut b = Client::login(srv.im, Kind::FramedJson, &bob).await;
    for id in ["p-1", "p-2", "p-3"] {
        assert_eq!(b.recv().await.id, id);
    }
    // A cumulative receipt for p-2 leaves only p-3 pending.
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "p-2",
        MsgStatus::Arrived,
    ))
    .await;
    let r = a.recv().await;
    assert_eq!(
        (r.id.as_str(), r.status),
        ("p-2", MsgStatus::Arrived as i32)
    );
    let mut b2 = Client::login(srv.im, Kind::Lines, &bob).await;
    assert_eq!(b2.recv().await.id, "p-3");
    b2.assert_alive(&bob).await;
    srv.shutdown().await;
}

// ---- errors (protocol.md section 6) ----------------------------------------------------

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

// ---- restart ---------------------------------------------------------------------------

#[tokio::test]
async fn restart_keeps_accounts_history_and_pending() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    for (i, id) in ["r-1", "r-2"].iter().enumerate() {
        a.send(&text(
            &alice,
            &bob.id,
            ChatType::Single,
            id,
            i as u32,
            "kept",
        ))
        .await;
        assert_eq!(a.recv().await.conv_seq, i as u64 + 1);
    }
    let dir = srv.shutdown().await;
    drop(a);

    let srv = start_in(dir, &[]).await;
    // Accounts and tokens survive; so does the password.
    let (status, body) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "bob", "password": "pw-123456"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"].as_str(), Some(bob.id.as_str()));
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/register",
        Some(&json!({"account": "alice", "password": "x"})),
    )
    .await;
    assert_eq!(status, 409);
    // Pending messages reach bob.
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;
    assert_eq!(b.recv().await.id, "r-1");
    assert_eq!(b.recv().await.id, "r-2");
    // History, and conv_seq goes on from where it was.
    let path = format!(
        "/api/messages?access_token={}&chat_type=0&peer_id={}&after_seq=0",
        alice.token, bob.id
    );
    let (status, body) = http(srv.api, "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r-1", "r-2"]);
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    a.send(&text(&alice, &bob.id, ChatType::Single, "r-3", 3, "after"))
        .await;
    assert_eq!(a.recv().await.conv_seq, 3);
    assert_eq!(b.recv().await.id, "r-3");
    // An idempotent resend of a message stored before the restart.
    a.send(&text(&alice, &bob.id, ChatType::Single, "r-1", 4, "kept"))
        .await;
    assert_eq!(a.recv().await.conv_seq, 1);
    srv.shutdown().await;
}

// ---- the binary ------------------------------------------------------------------------

#[tokio::test]
async fn binary_first_run_and_config_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let (im, api, other) = (free_port(), free_port(), free_port());
    // env.default says 8888/8889; .env overrides both; the environment overrides .env's IM port.
    std::fs::write(
        dir.path().join(".env"),
        format!("SERVER_PORT = {other}\nAPI_SERVER_PORT = \"{api}\" # from .env\n"),
    )
    .unwrap();
    let child = command(dir.path())
        .env("SERVER_IP", "127.0.0.1")
        .env("SERVER_PORT", im.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api_addr = ([127, 0, 0, 1], api).into();
    let mut p = Proc {
        child,
        im: ([127, 0, 0, 1], im).into(),
        api: api_addr,
    };
    if let Err(status) = p.ready().await {
        panic!("easyim exited early: {status}");
    }
    let default = std::fs::read_to_string(dir.path().join("env.default")).unwrap();
    assert!(default.contains("SERVER_PORT = \"8888\""), "{default}");
    assert!(default.contains("API_SERVER_PORT = \"8889\""), "{default}");
    assert!(non_empty(&dir.path().join("easyim.db")));
    // The IM port is the environment's, not .env's.
    let u = register(api_addr, "alice").await;
    let mut c = Client::login(([127, 0, 0, 1], im).into(), Kind::Lines, &u).await;
    c.assert_alive(&u).await;
    assert!(TcpStream::connect(("127.0.0.1", other)).await.is_err());
    // The stop key is the owner's only.
    let key_file = dir.path().join("easyim.stop");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Stop it over the API, from loopback, with the key: exit 0.
    let key = std::fs::read_to_string(&key_file).unwrap();
    let r = request(
        api_addr,
        "POST",
        "/api/local/stop",
        &[("X-Easyim-Stop-Key", key.as_str())],
        b"",
    )
    .await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (200, Some(200)));
    let e = c.recv().await;
    assert_error(&e, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn binary_bad_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("SERVER_PORT", "abc")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SERVER_PORT"), "{text}");
    assert!(text.contains("abc"), "{text}");
    // The same from .env.
    std::fs::write(dir.path().join(".env"), "MSG_FORMAT = xml\n").unwrap();
    let out = command(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MSG_FORMAT"));
}

#[tokio::test]
async fn binary_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--stop") && text.contains("--init"), "{text}");
}

#[tokio::test]
async fn binary_sigterm_sends_e_shutdown_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path(), &[]).await;
    let (im, api) = (p.im, p.api);
    let u = register(api, "alice").await;
    let mut c = Client::login(im, Kind::FramedProto, &u).await;
    let kill = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let e = c.recv().await;
    assert_error(&e, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn binary_stop_flag_stops_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path(), &[]).await;
    let (im, api) = (p.im, p.api);
    let u = register(api, "alice").await;
    let mut c = Client::login(im, Kind::WsText, &u).await;
    let out = command(dir.path()).arg("--stop").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_error(&c.recv().await, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    // With nothing running, --stop fails.
    let out = command(dir.path()).arg("--stop").output().unwrap();
    assert!(!out.status.success());
}
