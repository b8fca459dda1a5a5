//! Roles, kicks and mutes.

use super::*;

#[tokio::test]
async fn roles_kick_and_mutes() {
    let srv = start(&[]).await;
    let (alice, bob, carol, dave) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
        srv.user("dave").await,
    );
    let group = create_group(srv.api, &alice, &[&bob, &carol, &dave]).await;
    let g = json!(group);
    let mut a = Client::login(srv.im, Kind::WsBinary, &alice).await;
    let mut b = Client::login(srv.im, Kind::FramedJson, &bob).await;
    let mut c = Client::login(srv.im, Kind::Lines, &carol).await;
    // Every change is an event every member online sees, the actor included.
    async fn seen(conns: [&mut Client; 3], name: &str) -> Value {
        let mut last = Value::Null;
        for conn in conns {
            last = event(&conn.recv().await);
            assert_eq!(last["event"], name, "{last}");
        }
        last
    }

    // Only the owner sets roles.
    let to_admin = |u: &User| json!({"group_id": g, "user_id": u.id, "role": "admin"});
    let (s, _) = post(&srv, &bob, "/api/group/set_role", to_admin(&carol)).await;
    assert_eq!(s, 403);
    post_ok(&srv, &alice, "/api/group/set_role", to_admin(&bob)).await;
    let e = seen([&mut a, &mut b, &mut c], "role_changed").await;
    assert_eq!(
        (e["role"].as_str(), e["targets"][0].as_str()),
        (Some("admin"), Some(bob.id.as_str()))
    );
    let bad = json!({"group_id": g, "user_id": carol.id, "role": "owner"});
    let (s, _) = post(&srv, &alice, "/api/group/set_role", bad).await;
    assert_eq!(s, 400, "the owner changes by transfer only");

    // The members list and the info show roles.
    let members = get_ok(
        &srv,
        &carol,
        &format!("/api/group/members?group_id={group}"),
    )
    .await;
    let role_of = |id: &str| {
        members["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["role"].as_str().unwrap().to_owned())
    };
    assert_eq!(role_of(&alice.id).as_deref(), Some("owner"));
    assert_eq!(role_of(&bob.id).as_deref(), Some("admin"));
    assert_eq!(role_of(&carol.id).as_deref(), Some("member"));
    let info = get_ok(&srv, &bob, &format!("/api/group/info?group_id={group}")).await;
    assert_eq!(info["role"], "admin");
    assert_eq!(info["join_policy"], "invite");
    assert_eq!(info["history_visible"], "joined");
    let (s, _) = http(
        srv.api,
        "GET",
        &format!("/api/group/info?group_id={group}&access_token=nope"),
        None,
    )
    .await;
    assert_eq!(s, 401);

    // A member acts on nobody; an admin on members, not on admins or the owner.
    let kick = |u: &User| json!({"group_id": g, "user_ids": [u.id]});
    assert_eq!(
        post(&srv, &carol, "/api/group/kick", kick(&dave)).await.0,
        403
    );
    assert_eq!(
        post(&srv, &bob, "/api/group/kick", kick(&alice)).await.0,
        403
    );
    let mute = |u: &User, seconds: u64| json!({"group_id": g, "user_id": u.id, "seconds": seconds});
    assert_eq!(
        post(&srv, &carol, "/api/group/mute", mute(&dave, 60))
            .await
            .0,
        403
    );
    assert_eq!(
        post(&srv, &bob, "/api/group/mute", mute(&alice, 60))
            .await
            .0,
        403
    );
    let (s, _) = post(&srv, &bob, "/api/group/mute", mute(&dave, 400 * 24 * 3600)).await;
    assert_eq!(s, 400, "a mute past a year");

    // A muted member gets E_MUTED (kept), and nothing is stored.
    post_ok(&srv, &bob, "/api/group/mute", mute(&carol, 600)).await;
    let e = seen([&mut a, &mut b, &mut c], "member_muted").await;
    assert_eq!(e["seconds"], 600);
    assert_error(
        &say(&mut c, &carol, &group, "c-1", 1).await,
        "E_MUTED",
        "c-1",
        1,
    );
    c.assert_alive(&carol).await;
    post_ok(&srv, &bob, "/api/group/mute", mute(&carol, 0)).await;
    seen([&mut a, &mut b, &mut c], "member_unmuted").await;
    let ack = say(&mut c, &carol, &group, "c-2", 2).await;
    assert_eq!(ack.id, "c-2");
    assert_eq!(
        (a.recv().await.id, b.recv().await.id),
        ("c-2".into(), "c-2".into())
    );

    // mute_all: members get E_MUTED, the owner and admins still speak.
    let all = |on: bool| json!({"group_id": g, "muted": on});
    assert_eq!(
        post(&srv, &carol, "/api/group/mute_all", all(true)).await.0,
        403
    );
    post_ok(&srv, &bob, "/api/group/mute_all", all(true)).await;
    seen([&mut a, &mut b, &mut c], "group_muted").await;
    assert_error(
        &say(&mut c, &carol, &group, "c-3", 3).await,
        "E_MUTED",
        "c-3",
        3,
    );
    assert_eq!(say(&mut b, &bob, &group, "b-1", 1).await.id, "b-1");
    assert_eq!(c.recv().await.id, "b-1");
    assert_eq!(a.recv().await.id, "b-1");
    assert_eq!(say(&mut a, &alice, &group, "a-1", 1).await.id, "a-1");
    post_ok(&srv, &alice, "/api/group/mute_all", all(false)).await;
    let ids: Vec<String> = history(srv.api, &alice.token, 1, group.parse().unwrap())
        .await
        .iter()
        .map(|m| field(m, "id"))
        .collect();
    assert!(ids.contains(&"c-2".to_owned()) && ids.contains(&"a-1".to_owned()));
    assert!(!ids.contains(&"c-1".to_owned()) && !ids.contains(&"c-3".to_owned()));

    // The owner acts on admins; an admin on another admin may not.
    post_ok(&srv, &alice, "/api/group/set_role", to_admin(&carol)).await;
    assert_eq!(
        post(&srv, &bob, "/api/group/kick", kick(&carol)).await.0,
        403
    );
    assert_eq!(
        post(&srv, &bob, "/api/group/mute", mute(&carol, 60))
            .await
            .0,
        403
    );
    post_ok(&srv, &alice, "/api/group/kick", kick(&bob)).await;
    // Nobody is removed when one of the users is not a member.
    let both = json!({"group_id": g, "user_ids": [bob.id, dave.id]});
    assert_eq!(post(&srv, &alice, "/api/group/kick", both).await.0, 404);
    let members = get_ok(
        &srv,
        &alice,
        &format!("/api/group/members?group_id={group}"),
    )
    .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 3, "{members}");
    let (s, _) = post(
        &srv,
        &alice,
        "/api/group/kick",
        json!({"group_id": g, "user_ids": []}),
    )
    .await;
    assert_eq!(s, 400, "no users");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_kicked_member_gets_the_event_then_nothing() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &alice, &[&bob, &carol]).await;
    let mut b = Client::login(srv.im, Kind::FramedProto, &bob).await;
    let mut c = Client::login(srv.im, Kind::WsText, &carol).await;
    let kick = json!({"group_id": group, "user_ids": [carol.id]});
    post_ok(&srv, &alice, "/api/group/kick", kick).await;
    for conn in [&mut b, &mut c] {
        let m = conn.recv().await;
        let e = event(&m);
        assert_eq!(e["event"], "member_kicked");
        assert_eq!(e["actor"], alice.id.as_str());
        assert_eq!(e["targets"], json!([carol.id]));
        assert_eq!(m.from_user_id, alice.id);
    }
    // The next message reaches Bob, not Carol, whose connection stays up.
    let mut a = Client::login(srv.im, Kind::Lines, &alice).await;
    assert_eq!(say(&mut a, &alice, &group, "after", 1).await.id, "after");
    assert_eq!(b.recv().await.id, "after");
    c.assert_alive(&carol).await;
    assert_error(
        &say(&mut c, &carol, &group, "back", 2).await,
        "E_NOT_MEMBER",
        "back",
        2,
    );
    srv.shutdown().await;
}
