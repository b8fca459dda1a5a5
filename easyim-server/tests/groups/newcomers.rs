//! What newcomers and offline members see.

use super::*;

#[tokio::test]
async fn a_newcomer_sees_only_what_follows_its_join() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &alice, &[&bob]).await;
    let gid: u64 = group.parse().unwrap();
    let mut a = Client::login(srv.im, Kind::FramedJson, &alice).await;
    for (i, id) in ["old-1", "old-2"].iter().enumerate() {
        let ack = say(&mut a, &alice, &group, id, i as u32).await;
        assert_eq!(
            ack.conv_seq,
            i as u64 + 1,
            "a group's first message is conv_seq 1"
        );
    }
    let invite = json!({"group_id": group, "user_ids": [carol.id]});
    post_ok(&srv, &bob, "/api/group/invite", invite).await;
    assert_eq!(event(&a.recv().await)["event"], "member_joined");
    assert_eq!(say(&mut a, &alice, &group, "new-1", 3).await.conv_seq, 4);

    // Pending at login: the event that let Carol in, then what followed; nothing older.
    let mut c = Client::login(srv.im, Kind::FramedProto, &carol).await;
    let joined = c.recv().await;
    assert_eq!(joined.conv_seq, 3);
    let e = event(&joined);
    assert_eq!(
        (e["event"].as_str(), e["actor"].as_str()),
        (Some("member_joined"), Some(bob.id.as_str()))
    );
    assert_eq!(e["targets"], json!([carol.id]));
    assert_eq!(c.recv().await.id, "new-1");
    c.assert_alive(&carol).await;

    // History: the same.
    let seqs = |h: Vec<Value>| h.iter().map(|m| num(m, "conv_seq")).collect::<Vec<_>>();
    assert_eq!(
        seqs(history(srv.api, &carol.token, 1, gid).await),
        vec![3, 4]
    );
    let latest = get_ok(
        &srv,
        &carol,
        &format!("/api/messages?chat_type=1&peer_id={group}&limit=10"),
    )
    .await;
    assert_eq!(latest["items"].as_array().unwrap().len(), 2, "{latest}");
    let before = get_ok(
        &srv,
        &carol,
        &format!("/api/messages?chat_type=1&peer_id={group}&before_seq=3&limit=10"),
    )
    .await;
    assert_eq!(before["items"], json!([]), "nothing before the join");
    // The founders see everything, events included, in order.
    let all = history(srv.api, &bob.token, 1, gid).await;
    assert_eq!(seqs(all.clone()), vec![1, 2, 3, 4]);

    // `all`: the whole history is readable by the newcomer.
    let update = json!({"group_id": group, "history_visible": "all"});
    post_ok(&srv, &alice, "/api/group/update", update).await;
    assert_eq!(
        seqs(history(srv.api, &carol.token, 1, gid).await),
        vec![1, 2, 3, 4, 5]
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn events_reach_offline_members_in_order() {
    let srv = start(&[]).await;
    let (alice, bob, carol) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let group = create_group(srv.api, &alice, &[&bob, &carol]).await;
    let g = json!(group);
    post_ok(
        &srv,
        &alice,
        "/api/group/update",
        json!({"group_id": g, "name": "club", "notice": "hi"}),
    )
    .await;
    post_ok(
        &srv,
        &alice,
        "/api/group/set_role",
        json!({"group_id": g, "user_id": carol.id, "role": "admin"}),
    )
    .await;
    post_ok(
        &srv,
        &alice,
        "/api/group/transfer",
        json!({"group_id": g, "user_id": carol.id}),
    )
    .await;
    post_ok(&srv, &alice, "/api/group/leave", json!({"group_id": g})).await;

    let mut b = Client::login(srv.im, Kind::Lines, &bob).await;
    let mut got = Vec::new();
    for seq in 1..=4 {
        let m = b.recv().await;
        assert_eq!(m.conv_seq, seq);
        got.push(event(&m));
    }
    assert_eq!(got[0]["event"], "group_updated");
    assert_eq!(
        (got[0]["name"].as_str(), got[0]["notice"].as_str()),
        (Some("club"), Some("hi"))
    );
    assert_eq!(got[1]["event"], "role_changed");
    assert_eq!(got[1]["role"], "admin");
    assert_eq!(got[2]["event"], "owner_changed");
    assert_eq!(got[2]["targets"], json!([carol.id]));
    assert_eq!(got[3]["event"], "member_left");
    assert_eq!(got[3]["actor"], alice.id.as_str());
    b.assert_alive(&bob).await;
    let info = get_ok(&srv, &carol, &format!("/api/group/info?group_id={group}")).await;
    assert_eq!(
        (info["name"].as_str(), info["role"].as_str()),
        (Some("club"), Some("owner"))
    );
    assert_eq!(info["owner_id"], carol.id.as_str());
    srv.shutdown().await;
}
