//! An original installation on SQLite: imported, used through the API, imported again.

use super::*;

#[tokio::test]
async fn an_original_sqlite_installation_is_imported_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    build_original(&dir.path().join("sqlite3.db"));
    // A server that has an "erin" of its own already.
    let p = spawn(dir.path(), &[]).await;
    let erin_here = register(p.api, "erin").await;
    p.kill();

    // The default source is ./sqlite3.db; Go-style flag.
    let out = import(dir.path(), &["-import-original"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "users: 4 imported, 0 already there, 1 skipped",
        "friendships: 2 imported, 0 already there, 1 skipped",
        "friend requests: 2 imported, 0 already there, 1 skipped",
        "groups: 1 imported, 0 already there, 1 skipped",
        "group members: 3 imported, 0 already there, 3 skipped",
        "the account name is taken here",
        // A pinned friend has no conversation to pin until a message is sent.
        "not kept (no place for it yet): friends.sort, set on 1 row(s)",
    ] {
        assert!(report.contains(line), "{line:?} in\n{report}");
    }
    for kept in ["be_quiet", "join_check", "remark", "chat_groups.status"] {
        assert!(!report.contains(kept), "{kept} is kept now:\n{report}");
    }

    let mut p = spawn(dir.path(), &[]).await;
    let api = p.api;
    // A legacy password logs in, and is replaced by an argon2id hash at once.
    let db = dir.path().join("easyim.db");
    assert!(stored_hash(&db, ALICE).starts_with("legacy-sha256$"));
    let (status, v) = login(api, "alice", "wrong").await;
    assert_eq!(status, 401, "{v}");
    assert!(stored_hash(&db, ALICE).starts_with("legacy-sha256$"));
    let (status, v) = login(api, "alice", "alice-pw").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["id"], ALICE.to_string(), "the id is kept");
    assert!(stored_hash(&db, ALICE).starts_with("$argon2id$"));
    let (status, v) = login(api, "alice", "alice-pw").await;
    assert_eq!(status, 200, "the argon2id hash works: {v}");
    let alice = v["data"]["access_token"].as_str().unwrap().to_owned();

    // Profiles: the original's name is the nickname (the account when empty).
    let found = get(api, &alice, "/api/user/search?account=bob").await;
    assert_eq!(field(&found["items"][0], "nickname"), "bob", "{found}");
    let found = get(api, &alice, "/api/user/search?account=alice").await;
    assert_eq!(
        field(&found["items"][0], "nickname"),
        "Alice Liu",
        "{found}"
    );

    // Friends both ways, whichever side the original had a row for.
    let friends = get(api, &alice, "/api/user/friends?limit=50").await;
    assert_eq!(
        ids(&friends["items"], "id"),
        [BOB.to_string(), CAROL.to_string()]
    );
    let (_, v) = login(api, "carol", "carol-pw").await;
    let carol = v["data"]["access_token"].as_str().unwrap().to_owned();
    let friends = get(api, &carol, "/api/user/friends?limit=50").await;
    assert_eq!(ids(&friends["items"], "id"), [ALICE.to_string()]);

    // The open requests, with their message; the answered ones are not requests any more.
    let open = |reqs: &Value| -> Vec<Value> {
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == 0)
            .cloned()
            .collect()
    };
    let reqs = get(api, &alice, "/api/user/friend/requests?limit=50").await;
    let list = open(&reqs);
    assert_eq!(list.len(), 1, "{reqs}");
    assert_eq!(field(&list[0], "from_user_id"), DAVE.to_string());
    assert_eq!(field(&list[0], "msg"), "hi, I am Dave");
    let reqs = get(api, &carol, "/api/user/friend/requests?limit=50").await;
    assert_eq!(open(&reqs).len(), 1, "{reqs}");

    // The group with its id, owner and the members that were imported.
    let groups = get(api, &carol, "/api/groups?limit=50").await;
    let list = groups["items"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{groups}");
    assert_eq!(field(&list[0], "id"), TEAM.to_string());
    assert_eq!(field(&list[0], "owner_id"), ALICE.to_string());
    let members = get(
        api,
        &alice,
        &format!("/api/group/members?group_id={TEAM}&limit=50"),
    )
    .await;
    assert_eq!(
        ids(&members["items"], "id"),
        [ALICE.to_string(), BOB.to_string(), CAROL.to_string()]
    );
    // The group's flags: join_check is approval, status 1 is everyone muted; Bob's status 1
    // is a mute, Carol's be_quiet a muted conversation, Alice's sort a pinned one.
    let info = get(api, &alice, &format!("/api/group/info?group_id={TEAM}")).await;
    assert_eq!(
        (&info["join_policy"], &info["mute_all"]),
        (&json!("approval"), &json!(true)),
        "{info}"
    );
    let muted: Vec<(String, bool)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (field(m, "id"), m["muted_until"].as_i64().unwrap() > 0))
        .collect();
    assert!(muted.contains(&(BOB.to_string(), true)), "{members}");
    assert!(muted.contains(&(CAROL.to_string(), false)), "{members}");
    let team = |list: &Value| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| field(c, "peer_id") == TEAM.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("the group in {list}"))
    };
    let convs = get(api, &carol, "/api/conversations?limit=50").await;
    let c = team(&convs);
    assert_eq!(
        (&c["muted"], &c["pinned"]),
        (&json!(true), &json!(false)),
        "{c}"
    );
    let convs = get(api, &alice, "/api/conversations?limit=50").await;
    let c = team(&convs);
    assert_eq!(
        (&c["muted"], &c["pinned"]),
        (&json!(false), &json!(true)),
        "{c}"
    );
    // Alice's remark on Bob, hers alone.
    let friends = get(api, &alice, "/api/user/friends?limit=50").await;
    let bob_row = friends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| field(f, "id") == BOB.to_string())
        .cloned()
        .unwrap();
    assert_eq!(bob_row["remark"], "Bobby", "{friends}");

    // The new server's own "erin" is untouched.
    let (status, _) = login(api, "erin", PASSWORD).await;
    assert_eq!(status, 200);
    assert_ne!(erin_here.id, ERIN.to_string());

    // An imported user chats at once, with the id its client stored.
    let (_, v) = login(api, "bob", "bob-pw").await;
    let bob = User {
        id: BOB.to_string(),
        token: v["data"]["access_token"].as_str().unwrap().to_owned(),
    };
    let a = User {
        id: ALICE.to_string(),
        token: alice.clone(),
    };
    let mut ca = Client::login(p.im, Kind::Lines, &a).await;
    let mut cb = Client::login(p.im, Kind::FramedProto, &bob).await;
    ca.send(&text(
        &a,
        &bob.id,
        easyim_proto::ChatType::Single,
        "m1",
        1,
        "hi",
    ))
    .await;
    // alice and bob are friends: each may be told first that the other came online
    // (PRESENCE: the notice of alice's login may reach bob's connection, just registered).
    let not_presence = |m: &easyim_proto::Msg| m.msg_type != easyim_proto::MsgType::Presence as i32;
    let ack = ca.recv_where(not_presence).await;
    assert_eq!(ack.id, "m1");
    assert_eq!(cb.recv_where(not_presence).await.content, "hi");
    drop((ca, cb));
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // A second run changes nothing.
    let out = import(dir.path(), &["--import-original", "sqlite3.db"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "users: 0 imported, 4 already there, 1 skipped",
        "friendships: 0 imported, 2 already there, 1 skipped",
        "friend requests: 0 imported, 2 already there, 1 skipped",
        "groups: 0 imported, 1 already there, 1 skipped",
        "group members: 0 imported, 3 already there, 3 skipped",
    ] {
        assert!(report.contains(line), "{line:?} in\n{report}");
    }
    assert!(stored_hash(&db, ALICE).starts_with("$argon2id$"));
}
