//! The server API (`/api/admin/...`) over real sockets: a whole server on port 0. Admin send
//! is idempotent and reaches live connections; accounts made without passwords log in with
//! issued tokens; a disabled user is cut off at once and cannot come back; kick and state.
//! The gate (401, 429, off, IM port, audit) is in `admin_gate.rs`, devices in `devices.rs`.

mod support;

use easyim_proto::ChatType;
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn admin_send_is_idempotent_and_reaches_live_connections() {
    let srv = admin_server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let mut ca = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut cb = Client::login(srv.im, Kind::FramedJson, &bob).await;

    let send = json!({
        "id": "welcome-1",
        "from_user_id": "system",
        "to_user_ids": [alice.id, bob.id],
        "content": "welcome",
    });
    let data = admin_ok(srv.api, "POST", "/api/admin/message/send", send.clone()).await;
    let items = data["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for (item, u) in items.iter().zip([&alice, &bob]) {
        assert_eq!(item["to"], u.id.as_str());
        assert_eq!(
            (item["outcome"].as_str(), item["conv_seq"].as_u64()),
            (Some("stored"), Some(1))
        );
    }
    for c in [&mut ca, &mut cb] {
        let m = c.recv().await;
        assert_eq!(
            (m.id.as_str(), m.from_user_id.as_str(), m.content.as_str()),
            ("welcome-1", "0", "welcome")
        );
        assert_eq!(m.conv_seq, 1);
    }
    // The same call again: duplicates, nothing delivered twice.
    let again = admin_ok(srv.api, "POST", "/api/admin/message/send", send).await;
    for item in again["items"].as_array().unwrap() {
        assert_eq!(item["outcome"], "duplicate");
        assert_eq!(item["conv_seq"], 1);
    }
    // As alice to bob (a new id): bob gets it, and so does alice's connection.
    let data = admin_ok(
        srv.api,
        "POST",
        "/api/admin/message/send",
        json!({"id": "m-2", "from_user_id": alice.id, "to_user_id": bob.id, "content": "hi"}),
    )
    .await;
    assert_eq!(data["items"][0]["outcome"], "stored");
    let m = cb.recv().await;
    assert_eq!(
        (m.id.as_str(), m.from_user_id.as_str()),
        ("m-2", alice.id.as_str())
    );
    // The heartbeat answer comes after the message on alice's connection: the duplicate
    // delivered nothing, so the first frame is alice's own message.
    let before = ca.sync(alice.uid(), "sync-1").await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["id"], "m-2");
    // It is in bob's history.
    let h = history(srv.api, &bob.token, ChatType::Single as u8, alice.uid()).await;
    assert!(h.iter().any(|m| m["id"] == "m-2"), "{h:?}");
    // To a group, as a member.
    let g = create_group(srv.api, &alice, &[&bob]).await;
    let data = admin_ok(
        srv.api,
        "POST",
        "/api/admin/message/send",
        json!({"id": "g-1", "from_user_id": alice.id, "to_group_id": g, "content": "all", "msg_type": 5}),
    )
    .await;
    assert_eq!(
        (
            data["items"][0]["outcome"].as_str(),
            data["items"][0]["chat_type"].as_i64()
        ),
        (Some("stored"), Some(1))
    );
    // Bad sends.
    for bad in [
        json!({"from_user_id": "system", "to_user_id": bob.id, "content": "x"}),
        json!({"id": "x", "from_user_id": "nobody", "to_user_id": bob.id, "content": "x"}),
        json!({"id": "x", "from_user_id": "system", "content": "x"}),
        json!({"id": "x", "from_user_id": "system", "to_user_id": bob.id, "to_group_id": g, "content": "x"}),
        json!({"id": "x", "from_user_id": "system", "to_user_id": bob.id}),
        json!({"id": "x", "from_user_id": "system", "to_user_id": bob.id, "content": "x", "msg_type": 4}),
        json!({"id": "x", "from_user_id": "system", "to_user_id": bob.id, "content": "x", "msg_type": 9}),
        json!({"id": "x", "from_user_id": "system", "to_user_ids": (0..201).collect::<Vec<u64>>(), "content": "x"}),
    ] {
        let (status, v) = admin(srv.api, "POST", "/api/admin/message/send", &bad).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let (status, _) = admin(
        srv.api,
        "POST",
        "/api/admin/message/send",
        &json!({"id": "x", "from_user_id": "12345", "to_user_id": bob.id, "content": "x"}),
    )
    .await;
    assert_eq!(status, 404, "an unknown sender");
    let data = admin_ok(
        srv.api,
        "POST",
        "/api/admin/message/send",
        json!({"id": "x", "from_user_id": "system", "to_user_id": "12345", "content": "x"}),
    )
    .await;
    assert_eq!(data["items"][0]["outcome"], "no_user");
    srv.shutdown().await;
}

#[tokio::test]
async fn the_system_writes_to_a_group_it_is_no_member_of() {
    let srv = admin_server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let g = create_group(srv.api, &alice, &[&bob]).await;
    let mut ca = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut cb = Client::login(srv.im, Kind::FramedJson, &bob).await;
    let send = json!({"id": "sys-g-1", "from_user_id": "system", "to_group_id": g, "content": "maintenance at 3"});
    let data = admin_ok(srv.api, "POST", "/api/admin/message/send", send.clone()).await;
    let item = &data["items"][0];
    assert_eq!(
        (item["outcome"].as_str(), item["chat_type"].as_i64()),
        (Some("stored"), Some(1))
    );
    let seq = item["conv_seq"].as_u64().unwrap();
    // Every member gets it, the owner too: the system is no member, so nobody is left out.
    for c in [&mut ca, &mut cb] {
        let m = c.recv_where(|m| m.id == "sys-g-1").await;
        assert_eq!(
            (m.from_user_id.as_str(), m.to_user_id.as_str()),
            ("0", g.as_str())
        );
        assert_eq!(m.conv_seq, seq);
    }
    let h = history(
        srv.api,
        &bob.token,
        ChatType::Group as u8,
        g.parse().unwrap(),
    )
    .await;
    assert!(
        h.iter()
            .any(|m| m["id"] == "sys-g-1" && m["from_user_id"] == "0"),
        "{h:?}"
    );
    // Idempotent as any send; an unknown group is named in the answer.
    let again = admin_ok(srv.api, "POST", "/api/admin/message/send", send).await;
    assert_eq!(again["items"][0]["outcome"], "duplicate");
    let none = admin_ok(
        srv.api,
        "POST",
        "/api/admin/message/send",
        json!({"id": "sys-g-2", "from_user_id": "system", "to_group_id": "12345", "content": "x"}),
    )
    .await;
    assert_eq!(none["items"][0]["outcome"], "no_group");
    srv.shutdown().await;
}

#[tokio::test]
async fn created_users_log_in_with_issued_tokens_only() {
    let srv = admin_server().await;
    let data = admin_ok(
        srv.api,
        "POST",
        "/api/admin/users/create",
        json!({"users": [{"account": "ext-1", "nickname": "External One"}, {"account": "ext-2"}]}),
    )
    .await;
    let items = data["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["created"] == true));
    let id = items[0]["id"].as_str().unwrap().to_owned();
    // Again: existing, same id.
    let again = admin_ok(
        srv.api,
        "POST",
        "/api/admin/users/create",
        json!({"users": [{"account": "ext-1"}]}),
    )
    .await;
    assert_eq!(
        (
            again["items"][0]["id"].as_str(),
            again["items"][0]["created"].as_bool()
        ),
        (Some(id.as_str()), Some(false))
    );
    // No password logs in.
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "ext-1", "password": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    // Issued tokens: the IM login and the API.
    let t = admin_ok(
        srv.api,
        "POST",
        "/api/admin/user/token",
        json!({"user_id": id}),
    )
    .await;
    let user = User {
        id: id.clone(),
        token: t["access_token"].as_str().unwrap().to_owned(),
    };
    let mut c = Client::login(srv.im, Kind::FramedProto, &user).await;
    c.assert_alive(&user).await;
    let (status, v) = http(
        srv.api,
        "GET",
        &format!("/api/groups?access_token={}", user.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/refresh_token",
        Some(&json!({"refresh_token": t["refresh_token"], "grant_type": "access_token"})),
    )
    .await;
    assert_eq!(status, 200, "the issued refresh token works: {v}");
    // Bounds and unknowns.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"account": format!("m{i}")}))
        .collect();
    for bad in [
        json!({}),
        json!({"users": []}),
        json!({"users": many}),
        json!({"users": [{"account": ""}]}),
        json!({"users": [{"account": 5}]}),
        json!({"users": ["ext-3"]}),
        json!({"users": [{"account": "d"}, {"account": "d"}]}),
    ] {
        let (status, v) = admin(srv.api, "POST", "/api/admin/users/create", &bad).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let (status, _) = admin(
        srv.api,
        "POST",
        "/api/admin/user/token",
        &json!({"user_id": "999"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin(srv.api, "POST", "/api/admin/user/token", &json!({})).await;
    assert_eq!(status, 400);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_disabled_user_is_cut_off_at_once() {
    let srv = admin_server().await;
    let alice = srv.user("alice").await;
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let refresh = v["data"]["refresh_token"].as_str().unwrap().to_owned();
    let mut c1 = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut c2 = Client::login(srv.im, Kind::WsText, &alice).await;
    admin_ok(
        srv.api,
        "POST",
        "/api/admin/user/disable",
        json!({"user_id": alice.id}),
    )
    .await;
    for c in [&mut c1, &mut c2] {
        let m = c.recv().await;
        assert!(m.content.starts_with("E_AUTH_REVOKED"), "{m:?}");
        c.expect_closed().await;
    }
    let state = admin_ok(
        srv.api,
        "GET",
        &format!("/api/admin/user/state?user_id={}", alice.id),
        json!({}),
    )
    .await;
    assert_eq!(
        (state["disabled"].as_bool(), state["online"].as_bool()),
        (Some(true), Some(false))
    );
    // No way back in: password, old token, refresh, issued token, IM login.
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = http(
        srv.api,
        "GET",
        &format!("/api/groups?access_token={}", alice.token),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/refresh_token",
        Some(&json!({"refresh_token": refresh, "grant_type": "access_token"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = admin(
        srv.api,
        "POST",
        "/api/admin/user/token",
        &json!({"user_id": alice.id}),
    )
    .await;
    assert_eq!(status, 403);
    let mut c = Client::connect(srv.im, Kind::Lines).await;
    c.send(&login_msg(&alice)).await;
    let m = c.recv().await;
    assert!(m.content.starts_with("E_AUTH"), "{m:?}");
    // Kicking a disabled user leaves it disabled; enabling lets it log in again.
    admin_ok(
        srv.api,
        "POST",
        "/api/admin/user/kick",
        json!({"user_id": alice.id}),
    )
    .await;
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 403);
    admin_ok(
        srv.api,
        "POST",
        "/api/admin/user/enable",
        json!({"user_id": alice.id}),
    )
    .await;
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = admin(
        srv.api,
        "POST",
        "/api/admin/user/disable",
        &json!({"user_id": "42"}),
    )
    .await;
    assert_eq!(status, 404);
    srv.shutdown().await;
}

#[tokio::test]
async fn kick_and_state() {
    let srv = admin_server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let g = create_group(srv.api, &alice, &[&bob]).await;
    let mut c1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let _c2 = Client::login(srv.im, Kind::WsBinary, &alice).await;
    let _cb = Client::login(srv.im, Kind::Lines, &bob).await;
    let st = admin_ok(
        srv.api,
        "GET",
        &format!("/api/admin/user/state?user_id={}", alice.id),
        json!({}),
    )
    .await;
    assert_eq!(
        (st["connections"].as_u64(), st["online"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(st["group_ids"], json!([g]));
    let gs = admin_ok(
        srv.api,
        "GET",
        &format!("/api/admin/group/state?group_id={g}"),
        json!({}),
    )
    .await;
    assert_eq!(
        (gs["member_count"].as_u64(), gs["online_members"].as_u64()),
        (Some(2), Some(2))
    );
    let server = admin_ok(srv.api, "GET", "/api/admin/server/state", json!({})).await;
    assert_eq!(
        (
            server["online_users"].as_u64(),
            server["connections"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let k = admin_ok(
        srv.api,
        "POST",
        "/api/admin/user/kick",
        json!({"user_id": alice.id}),
    )
    .await;
    assert_eq!(k["connections"], 2);
    let m = c1.recv().await;
    assert!(m.content.starts_with("E_AUTH_REVOKED"), "{m:?}");
    c1.expect_closed().await;
    let (status, _) = admin(
        srv.api,
        "GET",
        "/api/admin/group/state?group_id=77",
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin(srv.api, "GET", "/api/admin/user/state", &json!({})).await;
    assert_eq!(status, 400);
    // Every call so far is counted.
    let metrics = request(srv.api, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains(
            "easyim_admin_requests_total{route=\"/api/admin/user/kick\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    srv.shutdown().await;
}
