//! Groups.

use super::*;

#[tokio::test]
async fn groups_and_members() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    let b = srv.register("bob").await;
    let c = srv.register("carol").await;
    let d = srv.register("dave").await;
    let (ta, tb, tc, td) = (tok(&a), tok(&b), tok(&c), tok(&d));

    // member_ids: strings and numbers mixed.
    let g = srv
        .post(
            "/api/group/create",
            json!({"access_token": ta, "name": "club", "member_ids": [b["id"], id_of(&c)]}),
        )
        .await
        .data();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert!(gid.chars().all(|ch| ch.is_ascii_digit()));
    // Without members; the caller alone.
    let solo = srv
        .post(
            "/api/group/create",
            json!({"access_token": td, "name": "solo"}),
        )
        .await
        .data();
    srv.post("/api/group/create", json!({"access_token": td}))
        .await
        .envelope(400);
    srv.post(
        "/api/group/create",
        json!({"access_token": td, "name": "x", "member_ids": ["999"]}),
    )
    .await
    .envelope(404);
    srv.post(
        "/api/group/create",
        json!({"access_token": td, "name": "x", "member_ids": {"a": 1}}),
    )
    .await
    .envelope(400);

    let groups = srv
        .get(&format!("/api/groups?access_token={tc}"))
        .await
        .data();
    assert_eq!(
        groups["items"],
        json!([{"id": gid, "name": "club", "owner_id": a["id"], "member_count": 3}])
    );

    let members = |token: &str, group: &str| {
        format!("/api/group/members?access_token={token}&group_id={group}")
    };
    let m = srv.get(&members(&tb, &gid)).await.data();
    let mut ids: Vec<&str> = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    ];
    want.sort();
    assert_eq!(ids, want);
    srv.get(&members(&td, &gid)).await.envelope(403);
    srv.get(&members(&td, "4242")).await.envelope(404);
    srv.get(&format!("/api/group/members?access_token={td}"))
        .await
        .envelope(400);

    // Invite: members only; a comma-separated list works.
    let invite = |token: &str, users: Value| json!({"access_token": token, "group_id": gid, "user_ids": users});
    srv.post("/api/group/invite", invite(&td, json!([d["id"]])))
        .await
        .envelope(403);
    srv.post("/api/group/invite", invite(&tb, json!([])))
        .await
        .envelope(400);
    srv.post("/api/group/invite", invite(&tb, json!(["777"])))
        .await
        .envelope(404);
    srv.post(
        "/api/group/invite",
        json!({"access_token": tb, "group_id": "4242", "user_ids": [d["id"]]}),
    )
    .await
    .envelope(404);
    srv.post(
        "/api/group/invite",
        invite(
            &tb,
            json!(format!(
                "{},{}",
                d["id"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            )),
        ),
    )
    .await
    .data();
    let m = srv.get(&members(&td, &gid)).await.data();
    assert_eq!(m["items"].as_array().unwrap().len(), 4);

    // Leave and join.
    let leave = |token: &str, group: &str| json!({"access_token": token, "group_id": group});
    srv.post("/api/group/leave", leave(&tc, &gid)).await.data();
    srv.post("/api/group/leave", leave(&tc, &gid))
        .await
        .envelope(404);
    srv.post("/api/group/leave", leave(&tc, "4242"))
        .await
        .envelope(404);
    srv.get(&members(&tc, &gid)).await.envelope(403);
    let groups = srv
        .get(&format!("/api/groups?access_token={tc}"))
        .await
        .data();
    assert_eq!(groups["items"], json!([]));
    // The group takes members by invitation (the default): joining it and joining a group
    // that does not exist answer the same.
    let refused = srv
        .post("/api/group/join", leave(&tc, &gid))
        .await
        .envelope(403);
    let unknown = srv
        .post("/api/group/join", leave(&tc, "4242"))
        .await
        .envelope(403);
    assert_eq!(refused, unknown);
    let open = json!({"access_token": ta, "group_id": gid, "join_policy": "open"});
    srv.post("/api/group/update", open).await.data();
    srv.post("/api/group/join", leave(&tc, &gid)).await.data();
    srv.post("/api/group/join", json!({"access_token": tc}))
        .await
        .envelope(400);
    let groups = srv
        .get(&format!("/api/groups?access_token={td}"))
        .await
        .data();
    assert_eq!(groups["items"].as_array().unwrap().len(), 2);
    assert!(groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["id"] == solo["id"] && g["member_count"] == 1));
}
