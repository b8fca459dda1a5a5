//! The conversation list over HTTP and the socket: unread counts, READ receipts and the HTTP
//! read moving one read position, read sync to the reader's other connections (and not the one
//! that read), settings, hiding, paging, and the errors of each route.

mod support;

use easyim_proto::{ChatType, Msg, MsgStatus};
use serde_json::{json, Value};
use support::*;

/// `GET /api/conversations` of `u` with `query` appended; the data.
async fn list(srv: &TestServer, u: &User, query: &str) -> Value {
    let path = format!("/api/conversations?access_token={}{query}", u.token);
    let (status, body) = http(srv.api, "GET", &path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

/// POSTs `body` (with `u`'s token) to `path`; the status and body.
async fn post(srv: &TestServer, u: &User, path: &str, mut body: Value) -> (u16, Value) {
    body["access_token"] = json!(u.token);
    http(srv.api, "POST", path, Some(&body)).await
}

/// Sends `n` texts from `from` to `to` over `c`, waiting for each ack.
async fn send_texts(c: &mut Client, from: &User, to: &str, chat: ChatType, ids: &[&str]) {
    for (i, id) in ids.iter().enumerate() {
        c.send(&text(from, to, chat, id, i as u32 + 1, id)).await;
        let ack = c.recv().await;
        assert_eq!((ack.id.as_str(), ack.status), (*id, MsgStatus::Sent as i32));
    }
}

/// The next frame of `c`, which must be a READ of message `id`.
async fn read_frame(c: &mut Client, id: &str) -> Msg {
    let m = c.recv().await;
    assert_eq!(
        (m.id.as_str(), m.status),
        (id, MsgStatus::Read as i32),
        "{m:?}"
    );
    m
}

#[tokio::test]
async fn unread_counts_read_positions_and_read_sync() {
    let srv = start(&[]).await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut b1 = Client::login(srv.im, Kind::FramedProto, &bob).await;
    let mut b2 = Client::login(srv.im, Kind::WsText, &bob).await;

    send_texts(
        &mut a,
        &alice,
        &bob.id,
        ChatType::Single,
        &["m1", "m2", "m3"],
    )
    .await;
    for b in [&mut b1, &mut b2] {
        for id in ["m1", "m2", "m3"] {
            assert_eq!(b.recv().await.id, id);
        }
    }
    let l = list(&srv, &bob, "").await;
    assert_eq!(l["total_unread"], 3, "{l}");
    let it = &l["items"][0];
    assert_eq!(
        (
            &it["chat_type"],
            &it["peer_id"],
            &it["name"],
            &it["unread"],
            &it["last_seq"]
        ),
        (
            &json!(0),
            &json!(alice.id),
            &json!("alice"),
            &json!(3),
            &json!(3)
        ),
        "{it}"
    );
    assert_eq!(it["last_message"]["id"], "m3");
    assert_eq!(it["last_message"]["content"], "m3");
    assert_eq!(l["cursor"], "", "one page only");
    let l = list(&srv, &alice, "").await;
    assert_eq!(
        (&l["total_unread"], &l["items"][0]["unread"]),
        (&json!(0), &json!(0)),
        "own messages are never unread: {l}"
    );

    // A READ over the socket: the sender gets the receipt, the reader's other device the sync
    // (from the reader itself, to the peer, with the new read position), the device that read
    // nothing.
    b1.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "m2",
        MsgStatus::Read,
    ))
    .await;
    let r = read_frame(&mut a, "m2").await;
    assert_eq!(r.from_user_id, bob.id);
    let s = read_frame(&mut b2, "m2").await;
    assert_eq!(
        (
            s.from_user_id.as_str(),
            s.to_user_id.as_str(),
            s.conv_seq,
            s.chat_type
        ),
        (
            bob.id.as_str(),
            alice.id.as_str(),
            2,
            ChatType::Single as i32
        ),
        "{s:?}"
    );
    b1.assert_alive(&bob).await;
    let it = &list(&srv, &bob, "").await["items"][0];
    assert_eq!((&it["read_seq"], &it["unread"]), (&json!(2), &json!(1)));

    // An older READ moves nothing and syncs nothing.
    b1.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "m1",
        MsgStatus::Read,
    ))
    .await;
    read_frame(&mut a, "m1").await;
    b2.assert_alive(&bob).await;
    let (status, body) = post(
        &srv,
        &bob,
        "/api/conversation/read",
        json!({"chat_type": 0, "peer_id": alice.id, "conv_seq": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"read_seq": 2, "unread": 1}),
        "never back"
    );
    // Like a READ receipt for that position: forwarded to its sender, nothing synced.
    read_frame(&mut a, "m1").await;
    b1.assert_alive(&bob).await;

    // The HTTP read (default: the last): both devices are synced, the sender gets the receipt.
    let (status, body) = post(
        &srv,
        &bob,
        "/api/conversation/read",
        json!({"chat_type": "SINGLE", "peer_id": alice.id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"read_seq": 3, "unread": 0}));
    read_frame(&mut a, "m3").await;
    for b in [&mut b1, &mut b2] {
        assert_eq!(read_frame(b, "m3").await.conv_seq, 3);
    }
    assert_eq!(list(&srv, &bob, "").await["total_unread"], 0);

    // Sending marks what came before as read for the sender.
    send_texts(&mut a, &alice, &bob.id, ChatType::Single, &["m4"]).await;
    assert_eq!(b1.recv().await.id, "m4");
    send_texts(&mut b1, &bob, &alice.id, ChatType::Single, &["r1"]).await;
    let it = &list(&srv, &bob, "").await["items"][0];
    assert_eq!(
        (&it["unread"], &it["last_seq"]),
        (&json!(0), &json!(5)),
        "{it}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn groups_settings_hide_and_errors() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &alice, &[&bob]).await;
    let mut a = Client::login(srv.im, Kind::Lines, &alice).await;
    send_texts(&mut a, &alice, &group, ChatType::Group, &["g1", "g2"]).await;
    send_texts(&mut a, &alice, &bob.id, ChatType::Single, &["d1"]).await;
    let l = list(&srv, &bob, "").await;
    assert_eq!(l["total_unread"], 3, "{l}");
    assert_eq!(
        l["items"][0]["peer_id"],
        json!(alice.id),
        "latest first: {l}"
    );
    assert_eq!(l["items"][1]["name"], "g");

    let settings = |body: Value| post(&srv, &bob, "/api/conversation/settings", body);
    let (status, body) = settings(json!({"chat_type": 1, "peer_id": group, "muted": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"chat_type": 1, "peer_id": group, "pinned": false, "muted": true})
    );
    let (status, _) = settings(json!({"chat_type": 1, "peer_id": group, "pinned": "true"})).await;
    assert_eq!(status, 200);
    let l = list(&srv, &bob, "").await;
    assert_eq!(l["total_unread"], 1, "muted out of the total: {l}");
    let g = &l["items"][0];
    assert_eq!(
        (&g["peer_id"], &g["pinned"], &g["muted"], &g["unread"]),
        (&json!(group), &json!(true), &json!(true), &json!(2)),
        "pinned first: {l}"
    );

    let (status, body) = post(
        &srv,
        &bob,
        "/api/conversation/hide",
        json!({"chat_type": 0, "peer_id": alice.id}),
    )
    .await;
    assert_eq!((status, &body["data"]), (200, &json!({})), "{body}");
    let l = list(&srv, &bob, "").await;
    assert_eq!(
        (l["items"].as_array().unwrap().len(), &l["total_unread"]),
        (1, &json!(0))
    );
    assert_eq!(
        list(&srv, &alice, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    send_texts(&mut a, &alice, &bob.id, ChatType::Single, &["d2"]).await;
    let l = list(&srv, &bob, "").await;
    assert_eq!(l["items"][1]["unread"], 2, "back with a newer message: {l}");

    // Errors.
    let cases = [
        (
            "/api/conversation/read",
            json!({"chat_type": 0, "peer_id": "999"}),
            404,
        ),
        (
            "/api/conversation/read",
            json!({"chat_type": 1, "peer_id": "999"}),
            404,
        ),
        (
            "/api/conversation/read",
            json!({"chat_type": 1, "peer_id": group}),
            403,
        ),
        (
            "/api/conversation/read",
            json!({"chat_type": 0, "peer_id": alice.id, "conv_seq": 9}),
            400,
        ),
        (
            "/api/conversation/read",
            json!({"chat_type": 7, "peer_id": alice.id}),
            400,
        ),
        ("/api/conversation/read", json!({"peer_id": alice.id}), 400),
        (
            "/api/conversation/settings",
            json!({"chat_type": 0, "peer_id": alice.id}),
            400,
        ),
        (
            "/api/conversation/settings",
            json!({"chat_type": 0, "peer_id": alice.id, "muted": "maybe"}),
            400,
        ),
        (
            "/api/conversation/settings",
            json!({"chat_type": 1, "peer_id": group, "muted": true}),
            403,
        ),
        (
            "/api/conversation/settings",
            json!({"chat_type": 0, "peer_id": bob.id, "muted": true}),
            404,
        ),
        (
            "/api/conversation/hide",
            json!({"chat_type": 0, "peer_id": bob.id}),
            404,
        ),
        (
            "/api/conversation/hide",
            json!({"chat_type": 1, "peer_id": group}),
            403,
        ),
    ];
    for (path, body, want) in cases {
        let (status, got) = post(&srv, &carol, path, body.clone()).await;
        assert_eq!(status, want, "{path} {body}: {got}");
        assert_eq!(got["code"], want, "the envelope: {got}");
    }
    for query in ["&limit=0", "&limit=201", "&cursor=nope", "&cursor=1.2.3"] {
        let path = format!("/api/conversations?access_token={}{query}", bob.token);
        let (status, body) = http(srv.api, "GET", &path, None).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (status, _) = http(srv.api, "GET", "/api/conversations", None).await;
    assert_eq!(status, 401);
    srv.shutdown().await;
}

#[tokio::test]
async fn pages_with_a_cursor_while_messages_arrive() {
    let srv = start(&[]).await;
    let me = srv.user("me").await;
    let mut peers = Vec::new();
    for i in 0..7 {
        let p = srv.user(&format!("peer{i}")).await;
        let mut c = Client::login(srv.im, Kind::FramedProto, &p).await;
        send_texts(&mut c, &p, &me.id, ChatType::Single, &[&format!("hi{i}")]).await;
        peers.push((p, c));
        // Distinct times, so that the order is by time alone.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list(&srv, &me, &format!("&limit=3&cursor={cursor}")).await;
        assert_eq!(
            page["total_unread"].as_u64().unwrap() as usize,
            7 + pages.min(1)
        );
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|it| it["peer_id"].as_str().unwrap().to_owned()),
        );
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if pages == 0 {
            // The newest conversation (already listed) gets another message: it moves to the
            // top, and the pages that follow neither repeat it nor skip anyone.
            let (p, c) = &mut peers[6];
            send_texts(c, p, &me.id, ChatType::Single, &["again"]).await;
        }
        pages += 1;
        if cursor.is_empty() {
            break;
        }
    }
    let mut want: Vec<String> = peers.iter().rev().map(|(p, _)| p.id.clone()).collect();
    assert_eq!(seen, want, "newest first, each once");
    want.sort();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(pages, 3);
    srv.shutdown().await;
}
