//! `POST /api/messages/delete` over a real socket (http-api.md, "Delete for me"): the messages
//! leave the caller's history and conversation preview only; every bad input has its status.

mod support;

use easyim_proto::ChatType;
use serde_json::{json, Value};
use support::*;

async fn delete(srv: &TestServer, u: &User, chat_type: u8, peer: &str, ids: Value) -> (u16, Value) {
    let body =
        json!({"access_token": u.token, "chat_type": chat_type, "peer_id": peer, "ids": ids});
    http(srv.api, "POST", "/api/messages/delete", Some(&body)).await
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| field(v, "id")).collect()
}

async fn preview(srv: &TestServer, u: &User) -> String {
    let path = format!("/api/conversations?access_token={}", u.token);
    let (s, v) = http(srv.api, "GET", &path, None).await;
    assert_eq!(s, 200, "{v}");
    field(&v["data"]["items"][0]["last_message"], "id")
}

#[tokio::test]
async fn delete_for_me_hides_from_the_caller_only() {
    let srv = start(&[]).await;
    let (a, b, c) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let mut ca = Client::login(srv.im, Kind::FramedJson, &a).await;
    for (i, id) in ["m1", "m2", "m3"].iter().enumerate() {
        ca.send(&text(&a, &b.id, ChatType::Single, id, i as u32 + 1, "hi"))
            .await;
        assert_eq!(ca.recv().await.id, *id);
    }

    let (s, v) = delete(&srv, &a, 0, &b.id, json!(["m3", "m2", "nope"])).await;
    assert_eq!((s, &v["data"]), (200, &json!({"removed": 2})), "{v}");
    assert_eq!(ids(&history(srv.api, &a.token, 0, b.uid()).await), ["m1"]);
    assert_eq!(
        ids(&history(srv.api, &b.token, 0, a.uid()).await),
        ["m1", "m2", "m3"],
        "bob keeps them"
    );
    assert_eq!(
        preview(&srv, &a).await,
        "m1",
        "alice's preview: the newest she kept"
    );
    assert_eq!(preview(&srv, &b).await, "m3");
    // Again (comma-separated this time): nothing more to remove.
    let (s, v) = delete(&srv, &a, 0, &b.id, json!("m2,m3")).await;
    assert_eq!((s, &v["data"]), (200, &json!({"removed": 0})), "{v}");

    // A group: a member's own view only.
    let g = create_group(srv.api, &a, &[&b]).await;
    ca.send(&text(&a, &g, ChatType::Group, "g1", 4, "hello"))
        .await;
    assert_eq!(ca.recv().await.id, "g1");
    let (s, v) = delete(&srv, &b, 1, &g, json!(["g1"])).await;
    assert_eq!((s, &v["data"]), (200, &json!({"removed": 1})), "{v}");
    let gid: u64 = g.parse().unwrap();
    assert!(!ids(&history(srv.api, &b.token, 1, gid).await).contains(&"g1".to_owned()));
    assert!(ids(&history(srv.api, &a.token, 1, gid).await).contains(&"g1".to_owned()));

    // Bad input.
    let many: Vec<String> = (0..201).map(|i| format!("x{i}")).collect();
    assert_eq!(
        delete(&srv, &a, 0, &b.id, json!(many)).await.0,
        400,
        "201 ids"
    );
    assert_eq!(delete(&srv, &a, 0, &b.id, json!([])).await.0, 400, "no ids");
    assert_eq!(
        delete(&srv, &a, 0, &b.id, json!([{"x": 1}])).await.0,
        400,
        "not ids"
    );
    let long = "x".repeat(129);
    assert_eq!(
        delete(&srv, &a, 0, &b.id, json!([long])).await.0,
        400,
        "an id too long"
    );
    assert_eq!(
        delete(&srv, &a, 0, "4242", json!(["m1"])).await.0,
        404,
        "unknown user"
    );
    assert_eq!(
        delete(&srv, &a, 7, &b.id, json!(["m1"])).await.0,
        400,
        "bad chat_type"
    );
    assert_eq!(
        delete(&srv, &c, 1, &g, json!(["g1"])).await.0,
        403,
        "not a member"
    );
    let body = json!({"access_token": a.token, "chat_type": 0, "peer_id": b.id});
    let (s, _) = http(srv.api, "POST", "/api/messages/delete", Some(&body)).await;
    assert_eq!(s, 400, "missing ids");
    let body = json!({"chat_type": 0, "peer_id": b.id, "ids": ["m1"]});
    let (s, _) = http(srv.api, "POST", "/api/messages/delete", Some(&body)).await;
    assert_eq!(s, 401, "no token");
    srv.shutdown().await;
}
