//! The owner: leaving and dismissal.

use super::*;

#[tokio::test]
async fn the_owner_cannot_leave_without_transferring() {
    let srv = start(&[]).await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let group = create_group(srv.api, &alice, &[&bob]).await;
    let g = json!({"group_id": group});
    let (s, v) = post(&srv, &alice, "/api/group/leave", g.clone()).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("transfer"), "{v}");
    // Only the owner transfers, and only to a member.
    let to = |u: &User| json!({"group_id": group, "user_id": u.id});
    assert_eq!(
        post(&srv, &bob, "/api/group/transfer", to(&bob)).await.0,
        403
    );
    let carol = srv.user("carol").await;
    assert_eq!(
        post(&srv, &alice, "/api/group/transfer", to(&carol))
            .await
            .0,
        404
    );
    post_ok(&srv, &alice, "/api/group/transfer", to(&bob)).await;
    post_ok(&srv, &alice, "/api/group/leave", g.clone()).await;
    let (s, _) = post(&srv, &bob, "/api/group/leave", g).await;
    assert_eq!(s, 403, "the new owner is bound too");
    srv.shutdown().await;
}

#[tokio::test]
async fn dismissal() {
    let srv = start(&[]).await;
    let (alice, bob) = (srv.user("alice").await, srv.user("bob").await);
    let group = create_group(srv.api, &alice, &[&bob]).await;
    let mut b = Client::login(srv.im, Kind::FramedJson, &bob).await;
    let g = json!({"group_id": group});
    assert_eq!(
        post(&srv, &bob, "/api/group/dismiss", g.clone()).await.0,
        403
    );
    post_ok(&srv, &alice, "/api/group/dismiss", g.clone()).await;
    let e = event(&b.recv().await);
    assert_eq!(
        (e["event"].as_str(), e["actor"].as_str()),
        (Some("group_dismissed"), Some(alice.id.as_str()))
    );
    assert_error(
        &say(&mut b, &bob, &group, "late", 1).await,
        "E_NO_GROUP",
        "late",
        1,
    );
    let (s, _) = http(
        srv.api,
        "GET",
        &format!(
            "/api/group/info?group_id={group}&access_token={}",
            bob.token
        ),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(post(&srv, &alice, "/api/group/dismiss", g).await.0, 404);
    assert_eq!(get_ok(&srv, &bob, "/api/groups").await["items"], json!([]));
    srv.shutdown().await;
}
