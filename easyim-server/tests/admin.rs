//! The server API (`/api/admin/...`) and push devices over real sockets: a whole server on
//! port 0. Admin send is idempotent and reaches live connections; a disabled user is cut off
//! at once and cannot come back; issued tokens log in on the IM port; bad tokens are 401 and
//! then rate limited; the API is off without ADMIN_TOKEN and never served on the IM port.

mod support;

use std::net::SocketAddr;

use easyim_proto::ChatType;
use serde_json::{json, Value};
use support::*;

const TOKEN: &str = "admin-token-for-the-tests-0123456789";

async fn server() -> TestServer {
    start(&[("ADMIN_TOKEN", TOKEN)]).await
}

/// A server API call with the admin token; the status and the JSON body.
async fn admin(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    admin_with(addr, method, path, body, &format!("Bearer {TOKEN}")).await
}

async fn admin_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &Value,
    authorization: &str,
) -> (u16, Value) {
    let body = body.to_string();
    let r = request(
        addr,
        method,
        path,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", authorization),
        ],
        body.as_bytes(),
    )
    .await;
    (r.status, r.json())
}

async fn ok(addr: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = admin(addr, method, path, &body).await;
    assert_eq!(status, 200, "{method} {path} {body}: {v}");
    v["data"].clone()
}

#[tokio::test]
async fn admin_send_is_idempotent_and_reaches_live_connections() {
    let srv = server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let mut ca = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut cb = Client::login(srv.im, Kind::FramedJson, &bob).await;

    let send = json!({
        "id": "welcome-1",
        "from_user_id": "system",
        "to_user_ids": [alice.id, bob.id],
        "content": "welcome",
    });
    let data = ok(srv.api, "POST", "/api/admin/message/send", send.clone()).await;
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
    let again = ok(srv.api, "POST", "/api/admin/message/send", send).await;
    for item in again["items"].as_array().unwrap() {
        assert_eq!(item["outcome"], "duplicate");
        assert_eq!(item["conv_seq"], 1);
    }
    // As alice to bob (a new id): bob gets it, and so does alice's connection.
    let data = ok(
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
    let data = ok(
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
        json!({"id": "x", "from_user_id": "system", "to_group_id": g, "content": "x"}),
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
    let data = ok(
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
async fn created_users_log_in_with_issued_tokens_only() {
    let srv = server().await;
    let data = ok(
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
    let again = ok(
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
    let t = ok(
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
    let srv = server().await;
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
    ok(
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
    let state = ok(
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
    ok(
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
    ok(
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
    let srv = server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let g = create_group(srv.api, &alice, &[&bob]).await;
    let mut c1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let _c2 = Client::login(srv.im, Kind::WsBinary, &alice).await;
    let _cb = Client::login(srv.im, Kind::Lines, &bob).await;
    let st = ok(
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
    let gs = ok(
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
    let server = ok(srv.api, "GET", "/api/admin/server/state", json!({})).await;
    assert_eq!(
        (
            server["online_users"].as_u64(),
            server["connections"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let k = ok(
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

#[tokio::test]
async fn bad_tokens_are_401_then_rate_limited() {
    let srv = server().await;
    let body = json!({});
    for auth in [
        "",
        "Bearer",
        "Bearer wrong",
        &format!("Basic {TOKEN}"),
        &format!("Bearer {TOKEN}x"),
    ] {
        let (status, v) = admin_with(srv.api, "GET", "/api/admin/server/state", &body, auth).await;
        assert_eq!(status, 401, "{auth:?}: {v}");
        assert_eq!(v["code"], 401);
    }
    // The burst is spent: even the right token waits now (nothing tells a guess from it).
    let (status, _) = admin_with(
        srv.api,
        "GET",
        "/api/admin/server/state",
        &body,
        "Bearer wrong",
    )
    .await;
    assert_eq!(status, 429);
    let (status, _) = admin(srv.api, "GET", "/api/admin/server/state", &body).await;
    assert_eq!(status, 429);
    let metrics = request(srv.api, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains(
            "easyim_admin_requests_total{route=\"/api/admin/server/state\",status=\"401\"} 5"
        ),
        "{metrics}"
    );
    // User tokens are no admin tokens.
    let srv2 = server().await;
    let alice = srv2.user("alice").await;
    let (status, _) = admin_with(
        srv2.api,
        "GET",
        "/api/admin/server/state",
        &body,
        &format!("Bearer {}", alice.token),
    )
    .await;
    assert_eq!(status, 401);
    srv.shutdown().await;
    srv2.shutdown().await;
}

#[tokio::test]
async fn off_without_admin_token_and_never_on_the_im_port() {
    let off = start(&[]).await;
    let (status, v) = admin(off.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["code"], 404);
    let (status, _) = admin(
        off.api,
        "POST",
        "/api/admin/user/disable",
        &json!({"user_id": "1"}),
    )
    .await;
    assert_eq!(status, 404);
    off.shutdown().await;

    let srv = server().await;
    let (status, _) = admin(srv.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 200);
    // The IM port speaks HTTP too, but not the server API.
    let (status, v) = admin(srv.im, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = admin(
        srv.im,
        "POST",
        "/api/admin/users/create",
        &json!({"users": [{"account": "x"}]}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = http(srv.im, "GET", "/healthz", None).await;
    assert_eq!(status, 200, "the IM port still serves the rest");
    srv.shutdown().await;
}

#[tokio::test]
async fn every_call_is_audited_in_the_log_without_the_token() {
    let (dir, p) = spawn_temp(&[("ADMIN_TOKEN", TOKEN), ("LOG_LEVEL", "info")]).await;
    let (status, _) = admin(p.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = admin_with(
        p.api,
        "POST",
        "/api/admin/user/kick",
        &json!({}),
        "Bearer guess-0123456789abcdef",
    )
    .await;
    assert_eq!(status, 401);
    p.kill();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("easyim::audit"))
        .collect();
    assert_eq!(audit.len(), 2, "{log}");
    assert!(
        audit[0].contains("/api/admin/server/state") && audit[0].contains("status=200"),
        "{}",
        audit[0]
    );
    assert!(
        audit[1].contains("/api/admin/user/kick") && audit[1].contains("status=401"),
        "{}",
        audit[1]
    );
    assert!(audit.iter().all(|l| l.contains("127.0.0.1")), "{audit:?}");
    assert!(
        !log.contains(TOKEN) && !log.contains("guess-0123456789abcdef"),
        "a token in the log: {log}"
    );
}

#[tokio::test]
async fn devices_register_list_remove() {
    let srv = server().await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let post = |path: &'static str, u: &User, body: Value| {
        let mut body = body;
        body["access_token"] = json!(u.token);
        async move { http(srv.api, "POST", path, Some(&body)).await }
    };
    let (status, v) = post(
        "/api/user/device",
        &alice,
        json!({"platform": "apns", "token": "tok-a"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["data"]["platform"].as_str(), v["data"]["token"].as_str()),
        (Some("apns"), Some("tok-a"))
    );
    post(
        "/api/user/device",
        &alice,
        json!({"platform": "fcm", "token": "tok-b"}),
    )
    .await;
    let (_, v) = http(
        srv.api,
        "GET",
        &format!("/api/user/devices?access_token={}", alice.token),
        None,
    )
    .await;
    let tokens: Vec<&str> = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["tok-a", "tok-b"]);
    let st = ok(
        srv.api,
        "GET",
        &format!("/api/admin/user/state?user_id={}", alice.id),
        json!({}),
    )
    .await;
    assert_eq!(st["devices"].as_array().unwrap().len(), 2);
    // The device changes hands.
    post(
        "/api/user/device",
        &bob,
        json!({"platform": "apns", "token": "tok-a"}),
    )
    .await;
    let (_, v) = http(
        srv.api,
        "GET",
        &format!("/api/user/devices?access_token={}", alice.token),
        None,
    )
    .await;
    assert_eq!(v["data"]["items"].as_array().unwrap().len(), 1);
    let (status, _) = post("/api/user/device/remove", &alice, json!({"token": "tok-a"})).await;
    assert_eq!(status, 404, "not alice's any more");
    let (status, _) = post("/api/user/device/remove", &alice, json!({"token": "tok-b"})).await;
    assert_eq!(status, 200);
    // Bounds.
    for i in 0..20 {
        let (status, _) = post(
            "/api/user/device",
            &alice,
            json!({"platform": "web", "token": format!("t{i}")}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = post(
        "/api/user/device",
        &alice,
        json!({"platform": "web", "token": "t20"}),
    )
    .await;
    assert_eq!(status, 403, "the 21st device");
    for bad in [
        json!({"token": "x"}),
        json!({"platform": "fcm"}),
        json!({"platform": "a b", "token": "x"}),
        json!({"platform": "fcm", "token": "x".repeat(4097)}),
    ] {
        let (status, v) = post("/api/user/device", &alice, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/device",
        Some(&json!({"platform": "fcm", "token": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    srv.shutdown().await;
}
