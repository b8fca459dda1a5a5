//! Relationships users control, end to end: blocking (`E_BLOCKED`, refused friend requests,
//! shared groups untouched), `DIRECT_MESSAGES=friends` (`E_FORBIDDEN`) and friend remarks.

mod support;

use easyim_proto::ChatType;
use serde_json::{json, Value};
use support::*;

async fn post(srv: &TestServer, who: &User, path: &str, mut body: Value) -> (u16, Value) {
    body["access_token"] = json!(who.token);
    http(srv.api, "POST", path, Some(&body)).await
}

#[tokio::test]
async fn a_blocked_user_cannot_write_or_ask() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &carol, &[&alice, &bob]).await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut b = Client::login(srv.im, Kind::Lines, &bob).await;

    let block = |u: &User| json!({"user_id": u.id});
    assert_eq!(
        post(&srv, &bob, "/api/user/block", block(&alice)).await.0,
        200
    );
    assert_eq!(
        post(&srv, &bob, "/api/user/block", block(&alice)).await.0,
        200,
        "twice"
    );
    assert_eq!(
        post(&srv, &bob, "/api/user/block", block(&bob)).await.0,
        400,
        "oneself"
    );
    let ghost = json!({"user_id": "424242"});
    assert_eq!(
        post(&srv, &bob, "/api/user/block", ghost.clone()).await.0,
        404
    );
    assert_eq!(post(&srv, &bob, "/api/user/unblock", ghost).await.0, 404);
    let (s, v) = http(
        srv.api,
        "GET",
        &format!("/api/user/blocks?access_token={}", bob.token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["items"][0]["id"], alice.id.as_str());
    assert_eq!(v["data"]["items"].as_array().unwrap().len(), 1);

    // Alice's 1:1 message: E_BLOCKED, the connection kept, nothing stored or delivered.
    a.send(&text(&alice, &bob.id, ChatType::Single, "x-1", 1, "hi"))
        .await;
    assert_error(&a.recv().await, "E_BLOCKED", "x-1", 1);
    a.assert_alive(&alice).await;
    b.assert_alive(&bob).await;
    assert!(history(srv.api, &bob.token, 0, alice.uid())
        .await
        .is_empty());
    // Bob may still write to Alice.
    b.send(&text(&bob, &alice.id, ChatType::Single, "y-1", 1, "hello"))
        .await;
    assert_eq!(b.recv().await.id, "y-1");
    assert_eq!(a.recv().await.id, "y-1");
    // Alice's friend request is refused.
    let ask = json!({"to_user_id": bob.id});
    assert_eq!(
        post(&srv, &alice, "/api/user/friend/add", ask.clone())
            .await
            .0,
        403
    );
    // The shared group is not affected.
    a.send(&text(&alice, &group, ChatType::Group, "g-1", 2, "all"))
        .await;
    assert_eq!(a.recv().await.id, "g-1");
    assert_eq!(b.recv().await.id, "g-1");

    // Unblocked: all works again.
    assert_eq!(
        post(&srv, &bob, "/api/user/unblock", block(&alice)).await.0,
        200
    );
    a.send(&text(&alice, &bob.id, ChatType::Single, "x-2", 3, "again"))
        .await;
    assert_eq!(a.recv().await.id, "x-2");
    assert_eq!(b.recv().await.id, "x-2");
    assert_eq!(post(&srv, &alice, "/api/user/friend/add", ask).await.0, 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn friends_only_direct_messages() {
    let srv = start(&[("DIRECT_MESSAGES", "friends")]).await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let mut a = Client::login(srv.im, Kind::WsText, &alice).await;
    a.send(&text(&alice, &bob.id, ChatType::Single, "s-1", 1, "hi"))
        .await;
    assert_error(&a.recv().await, "E_FORBIDDEN", "s-1", 1);
    a.assert_alive(&alice).await;

    let (s, v) = post(
        &srv,
        &alice,
        "/api/user/friend/add",
        json!({"to_user_id": bob.id}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let request = v["data"]["id"].clone();
    let (s, v) = post(
        &srv,
        &bob,
        "/api/user/friend/accept",
        json!({"id": request}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    a.send(&text(
        &alice,
        &bob.id,
        ChatType::Single,
        "s-2",
        2,
        "friends now",
    ))
    .await;
    assert_eq!(a.recv().await.id, "s-2");
    srv.shutdown().await;
}

#[tokio::test]
async fn friend_remarks() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let (_, v) = post(
        &srv,
        &alice,
        "/api/user/friend/add",
        json!({"to_user_id": bob.id}),
    )
    .await;
    let request = v["data"]["id"].clone();
    let (s, _) = post(
        &srv,
        &bob,
        "/api/user/friend/accept",
        json!({"id": request}),
    )
    .await;
    assert_eq!(s, 200);
    let remark = |u: &User, r: &str| json!({"friend_id": u.id, "remark": r});
    assert_eq!(
        post(
            &srv,
            &alice,
            "/api/user/friend/remark",
            remark(&bob, "Bobby")
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(&srv, &alice, "/api/user/friend/remark", remark(&carol, "C"))
            .await
            .0,
        404
    );
    let long = "x".repeat(129);
    assert_eq!(
        post(&srv, &alice, "/api/user/friend/remark", remark(&bob, &long))
            .await
            .0,
        400
    );
    let friends = |u: &User| {
        let path = format!("/api/user/friends?access_token={}", u.token);
        async move { http(srv.api, "GET", &path, None).await.1["data"]["items"].clone() }
    };
    let mine = friends(&alice).await;
    assert_eq!(
        (mine[0]["id"].as_str(), mine[0]["remark"].as_str()),
        (Some(bob.id.as_str()), Some("Bobby"))
    );
    assert_eq!(
        friends(&bob).await[0]["remark"],
        "",
        "a remark is its writer's only"
    );
    assert_eq!(
        post(&srv, &alice, "/api/user/friend/remark", remark(&bob, ""))
            .await
            .0,
        200
    );
    assert_eq!(friends(&alice).await[0]["remark"], "");
    srv.shutdown().await;
}
