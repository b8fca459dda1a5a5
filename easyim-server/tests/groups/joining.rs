//! Joining: the policies, guessed ids, approval, the rate limit.

use super::*;

#[tokio::test]
async fn join_policies_and_guessed_ids() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &alice, &[]).await;

    // Invitation only (the default): the same 403 as for a group that does not exist.
    let (s1, refused) = post(&srv, &bob, "/api/group/join", json!({"group_id": group})).await;
    let guess = (group.parse::<u64>().unwrap() + 1).to_string();
    let (s2, unknown) = post(&srv, &bob, "/api/group/join", json!({"group_id": guess})).await;
    assert_eq!((s1, s2), (403, 403));
    assert_eq!(refused, unknown);

    // Open: anyone joins, and the members online see the event.
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let update = json!({"group_id": group, "join_policy": "open"});
    post_ok(&srv, &alice, "/api/group/update", update).await;
    let e = event(&a.recv().await);
    assert_eq!(e["event"], "group_updated");
    assert_eq!(e["join_policy"], "open");
    let joined = post_ok(&srv, &bob, "/api/group/join", json!({"group_id": group})).await;
    assert_eq!(joined, json!({"status": "joined"}));
    let m = a.recv().await;
    let e = event(&m);
    assert_eq!(
        (e["event"].as_str(), e["actor"].as_str()),
        (Some("member_joined"), Some(bob.id.as_str()))
    );
    assert_eq!(e["targets"], json!([bob.id]));
    assert_eq!(m.from_user_id, bob.id);
    // Joining again changes nothing (no second event).
    post_ok(&srv, &bob, "/api/group/join", json!({"group_id": group})).await;
    a.assert_alive(&alice).await;

    // Invite policy `admins`: a member may no longer invite.
    let update = json!({"group_id": group, "invite_policy": "admins"});
    post_ok(&srv, &alice, "/api/group/update", update).await;
    let invite = json!({"group_id": group, "user_ids": [carol.id]});
    let (s, v) = post(&srv, &bob, "/api/group/invite", invite.clone()).await;
    assert_eq!(s, 403, "{v}");
    post_ok(&srv, &alice, "/api/group/invite", invite).await;

    // Bad values are 400s naming the accepted ones.
    let bad = json!({"group_id": group, "join_policy": "anyone"});
    let (s, v) = post(&srv, &alice, "/api/group/update", bad).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("`open`"), "{v}");
    let (s, _) = post(
        &srv,
        &alice,
        "/api/group/update",
        json!({"group_id": group}),
    )
    .await;
    assert_eq!(s, 400, "an update of nothing");
    srv.shutdown().await;
}

#[tokio::test]
async fn join_on_approval() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let create = json!({"name": "club", "member_ids": [carol.id], "join_policy": "approval"});
    let group = post_ok(&srv, &alice, "/api/group/create", create).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut a = Client::login(srv.im, Kind::Lines, &alice).await;
    let join = json!({"group_id": group});

    // Bob asks; the owner online is told; asking again is the same request.
    let asked = post_ok(&srv, &bob, "/api/group/join", join.clone()).await;
    assert_eq!(asked["status"], "requested");
    let request = asked["request_id"].as_str().unwrap().to_owned();
    let notice = a.recv().await;
    assert_eq!(notice.content, format!("JOIN_REQUEST: {group} {request}"));
    let again = post_ok(&srv, &bob, "/api/group/join", join.clone()).await;
    assert_eq!(again["request_id"], request.as_str());

    // Only the owner and admins see and answer requests.
    let list = format!("/api/group/requests?group_id={group}");
    let (s, _) = http(
        srv.api,
        "GET",
        &format!("{list}&access_token={}", carol.token),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let pending = get_ok(&srv, &alice, &list).await;
    assert_eq!(
        pending["items"],
        json!([{"id": request, "group_id": group, "user_id": bob.id}])
    );
    let answer = json!({"id": request});
    assert_eq!(
        post(&srv, &carol, "/api/group/approve", answer.clone())
            .await
            .0,
        404
    );

    // Refused: not a member, and may ask again.
    post_ok(&srv, &alice, "/api/group/refuse", answer.clone()).await;
    assert_eq!(
        post(&srv, &alice, "/api/group/approve", answer).await.0,
        409
    );
    let members = format!("/api/group/members?group_id={group}");
    let (s, _) = http(
        srv.api,
        "GET",
        &format!("{members}&access_token={}", bob.token),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let asked = post_ok(&srv, &bob, "/api/group/join", join).await;
    let second = asked["request_id"].as_str().unwrap().to_owned();
    assert_ne!(second, request);
    assert!(a.recv().await.content.starts_with("JOIN_REQUEST: "));

    // Approved: a member, and the group sees who let it in.
    post_ok(&srv, &alice, "/api/group/approve", json!({"id": second})).await;
    let e = event(&a.recv().await);
    assert_eq!(e["event"], "member_joined");
    assert_eq!(
        (e["actor"].as_str(), e["targets"][0].as_str()),
        (Some(alice.id.as_str()), Some(bob.id.as_str()))
    );
    assert_eq!(
        get_ok(&srv, &bob, &members).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(get_ok(&srv, &alice, &list).await["items"], json!([]));
    let unknown = json!({"id": "12345"});
    assert_eq!(
        post(&srv, &alice, "/api/group/approve", unknown).await.0,
        404
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn join_is_rate_limited() {
    let srv = start(&[("API_RATE_LIMIT", "2")]).await;
    // Registration takes from the same bucket: wait for it to refill.
    let bob = srv.user("bob").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut statuses = Vec::new();
    for guess in 1..=4u64 {
        let (s, _) = post(&srv, &bob, "/api/group/join", json!({"group_id": guess})).await;
        statuses.push(s);
    }
    assert_eq!(&statuses[..2], &[403, 403], "{statuses:?}");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    srv.shutdown().await;
}
