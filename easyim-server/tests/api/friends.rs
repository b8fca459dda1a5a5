//! Friends.

use super::*;

#[tokio::test]
async fn friend_requests_flow() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    let b = srv.register("bob").await;
    let c = srv.register("carol").await;
    let (ta, tb, tc) = (tok(&a), tok(&b), tok(&c));
    let mut b_online = online(&srv.engine, &b).await;

    // Ids as strings or numbers.
    let req = srv
        .post(
            "/api/user/friend/add",
            json!({"access_token": ta, "to_user_id": id_of(&b), "msg": "hi"}),
        )
        .await
        .data();
    let req_id = req["id"].as_str().unwrap().to_owned();
    let notice = tokio::time::timeout(Duration::from_secs(5), b_online.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.msg().content, format!("FRIEND_REQUEST: {req_id}"));
    assert_eq!(notice.msg().msg_type, MsgType::Notify as i32);

    let add = |token: &str, to: Value| json!({"access_token": token, "to_user_id": to});
    srv.post("/api/user/friend/add", add(&ta, a["id"].clone()))
        .await
        .envelope(400);
    srv.post("/api/user/friend/add", add(&ta, json!("999999999")))
        .await
        .envelope(404);
    srv.post("/api/user/friend/add", add(&ta, json!("x12")))
        .await
        .envelope(400);
    srv.post("/api/user/friend/add", json!({"access_token": ta}))
        .await
        .envelope(400);

    let reqs = srv
        .get(&format!("/api/user/friend/requests?access_token={tb}"))
        .await
        .data();
    assert_eq!(
        reqs["items"],
        json!([{"id": req_id, "from_user_id": a["id"], "msg": "hi", "status": 0}])
    );

    // Only the addressee answers.
    srv.post(
        "/api/user/friend/accept",
        json!({"access_token": tc, "id": req_id}),
    )
    .await
    .envelope(404);
    srv.post("/api/user/friend/accept", json!({"access_token": tb}))
        .await
        .envelope(400);
    srv.post(
        "/api/user/friend/accept",
        json!({"access_token": tb, "id": req_id}),
    )
    .await
    .data();
    srv.post(
        "/api/user/friend/accept",
        json!({"access_token": tb, "id": req_id}),
    )
    .await
    .envelope(409);

    for (token, other) in [(&ta, &b), (&tb, &a)] {
        let f = srv
            .get(&format!("/api/user/friends?access_token={token}"))
            .await
            .data();
        assert_eq!(f["total"], 1);
        assert_eq!(f["items"][0]["id"], other["id"]);
        assert_eq!(f["items"][0]["account"], other["nickname"]);
    }
    srv.post("/api/user/friend/add", add(&ta, b["id"].clone()))
        .await
        .envelope(409);

    // Refuse.
    let r2 = srv
        .post("/api/user/friend/add", add(&tc, b["id"].clone()))
        .await
        .data();
    srv.post(
        "/api/user/friend/refuse",
        json!({"access_token": tb, "id": r2["id"]}),
    )
    .await
    .data();
    let reqs = srv
        .get(&format!("/api/user/friend/requests?access_token={tb}"))
        .await
        .data();
    let refused = reqs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == r2["id"])
        .unwrap();
    assert_eq!(refused["status"], 2);
    let accepted = reqs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == req_id.as_str())
        .unwrap();
    assert_eq!(accepted["status"], 1);
    srv.post(
        "/api/user/friend/refuse",
        json!({"access_token": tb, "id": "12345"}),
    )
    .await
    .envelope(404);

    // Remove, on both sides.
    srv.post(
        "/api/user/friend/remove",
        json!({"access_token": tb, "friend_id": a["id"]}),
    )
    .await
    .data();
    for token in [&ta, &tb] {
        let f = srv
            .get(&format!("/api/user/friends?access_token={token}"))
            .await
            .data();
        assert_eq!(f, json!({"total": 0, "items": [], "cursor": ""}));
    }
    srv.post(
        "/api/user/friend/remove",
        json!({"access_token": tb, "friend_id": a["id"]}),
    )
    .await
    .envelope(404);
    srv.post("/api/user/friend/remove", json!({"access_token": tb}))
        .await
        .envelope(400);
}
