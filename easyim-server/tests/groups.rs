//! Running groups end to end over real sockets: join policies and guessed ids, roles, kick,
//! mute and `E_MUTED`, group events as messages (live, pending, history), what a newcomer
//! sees, and the owner's own rules.

mod support;

use easyim_proto::{ChatType, Msg, MsgType};
use serde_json::{json, Value};
use support::*;

/// POST `path` with `body` plus the caller's token; the status and the envelope.
async fn post(srv: &TestServer, who: &User, path: &str, mut body: Value) -> (u16, Value) {
    body["access_token"] = json!(who.token);
    http(srv.api, "POST", path, Some(&body)).await
}

/// POST that must answer 200.
async fn post_ok(srv: &TestServer, who: &User, path: &str, body: Value) -> Value {
    let (status, v) = post(srv, who, path, body).await;
    assert_eq!(status, 200, "{path}: {v}");
    v["data"].clone()
}

/// GET that must answer 200.
async fn get_ok(srv: &TestServer, who: &User, path: &str) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, v) = http(
        srv.api,
        "GET",
        &format!("{path}{sep}access_token={}", who.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{path}: {v}");
    v["data"].clone()
}

/// The group event `m` carries, checking it is one.
fn event(m: &Msg) -> Value {
    assert_eq!(m.msg_type, MsgType::Notify as i32, "{m:?}");
    assert_eq!(m.chat_type, ChatType::Group as i32, "{m:?}");
    serde_json::from_str(&m.content).expect("an event's content is JSON")
}

/// Sends a text to `group` and returns the answer (the ack, or an error).
async fn say(c: &mut Client, from: &User, group: &str, id: &str, seq: u32) -> Msg {
    c.send(&text(from, group, ChatType::Group, id, seq, id))
        .await;
    c.recv().await
}

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
