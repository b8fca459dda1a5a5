//! Push devices over real sockets: register, list, move between users, remove, bounds.

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn devices_register_list_remove() {
    let srv = admin_server().await;
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
    let st = admin_ok(
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
