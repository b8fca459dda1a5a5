//! The HTTP API's handlers: envelopes, status codes, argument parsing, tokens, CORS and
//! limits, with requests sent straight into the router (no socket) over SQLite in a temporary
//! folder. The API over real sockets is in e2e.rs.

mod support;

use std::sync::Arc;
use std::time::Duration;

use std::net::{IpAddr, Ipv4Addr};

use easyim_core::testkit::FailingStorage;
use easyim_core::{
    Conversation, Engine, EngineConfig, Im, JwtAuth, Limits, MemoryStorage, NewMessage, Receipt,
    StoreOutcome,
};
use easyim_proto::{ChatType, Msg, MsgType};
use easyim_server::{api_router, ApiConfig};
use serde_json::{json, Value};
use support::{oneshot, Api, ApiOpts, Resp};
use tokio_util::sync::CancellationToken;

fn id_of(v: &Value) -> u64 {
    v["id"].as_str().expect("id as a string").parse().unwrap()
}

fn tok(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_owned()
}

// ---- accounts and tokens -------------------------------------------------------------------

#[tokio::test]
async fn register_login_and_duplicates() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    for key in [
        "id",
        "nickname",
        "avatar",
        "access_token",
        "expires_in",
        "refresh_token",
    ] {
        assert!(d.get(key).is_some(), "{key} in {d}");
    }
    assert!(d["id"]
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_digit()));
    assert_eq!(
        d["nickname"], "alice",
        "the nickname defaults to the account"
    );
    assert_eq!(d["avatar"], "");
    assert_eq!(d["expires_in"], 7200);

    let dup = srv
        .post(
            "/api/user/register",
            json!({"account": "alice", "password": "x"}),
        )
        .await;
    dup.envelope(409);
    for bad in [
        json!({"account": "", "password": "x"}),
        json!({"account": "bob"}),
        json!({"password": "x"}),
        json!({"account": "a".repeat(65), "password": "x"}),
        json!({"account": "bob", "password": "p".repeat(257)}),
        json!({"account": ["bob"], "password": "x"}),
    ] {
        srv.post("/api/user/register", bad).await.envelope(400);
    }

    // A form body (the original's clients) with a nickname.
    let r = srv
        .req(
            "POST",
            "/api/user/register",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"account=carol&password=p%26w&nickname=Carol+C",
        )
        .await
        .data();
    assert_eq!(r["nickname"], "Carol C");

    let ok = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await
        .data();
    assert_eq!(ok["id"], d["id"]);
    assert!(ok["refresh_token"].is_string());
    // The query string works too, and the form password was decoded.
    srv.req(
        "POST",
        "/api/user/login?account=carol&password=p%26w",
        &[],
        b"",
    )
    .await
    .data();

    let wrong = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "nope"}),
        )
        .await
        .envelope(401);
    let unknown = srv
        .post(
            "/api/user/login",
            json!({"account": "nobody", "password": "nope"}),
        )
        .await
        .envelope(401);
    assert_eq!(wrong["msg"], unknown["msg"], "one message for both");
    srv.post("/api/user/login", json!({"account": "alice"}))
        .await
        .envelope(400);
}

#[tokio::test]
async fn check_and_refresh_tokens() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let (access, refresh) = (tok(&d), d["refresh_token"].as_str().unwrap().to_owned());

    let c = srv
        .get(&format!("/api/user/check_token?token={access}"))
        .await
        .data();
    assert_eq!(c["grant_type"], "access_token");
    let left = c["expires_in"].as_u64().unwrap();
    assert!(left > 7000 && left <= 7200, "{left}");
    let c = srv
        .get(&format!("/api/user/check_token?token={refresh}"))
        .await
        .data();
    assert_eq!(c["grant_type"], "refresh_token");
    srv.get("/api/user/check_token?token=forged.token.here")
        .await
        .envelope(401);
    srv.get("/api/user/check_token").await.envelope(401);

    let path = "/api/user/refresh_token";
    let r = srv
        .post(
            path,
            json!({"refresh_token": refresh, "grant_type": "access_token"}),
        )
        .await
        .data();
    assert_eq!(r["grant_type"], "access_token");
    assert_eq!(r["expires_in"], 7200);
    let new_access = r["token"].as_str().unwrap().to_owned();
    // Rotation: the refresh token sent is spent; the answer carries the next one.
    let next = r["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);
    srv.get(&format!("/api/user/friends?access_token={new_access}"))
        .await
        .data();
    let r = srv
        .post(
            path,
            json!({"refresh_token": next, "grant_type": "refresh_token"}),
        )
        .await
        .data();
    assert_eq!(r["grant_type"], "refresh_token");
    assert_eq!(r["expires_in"], 2_592_000);
    assert_eq!(
        r["token"], r["refresh_token"],
        "the token asked for is the next refresh token"
    );
    let next = r["refresh_token"].as_str().unwrap().to_owned();

    // An access token does not buy tokens; a bad grant_type is a 400 (after the token check),
    // and a refused call spends nothing.
    srv.post(
        path,
        json!({"refresh_token": access, "grant_type": "access_token"}),
    )
    .await
    .envelope(401);
    srv.post(path, json!({"grant_type": "access_token"}))
        .await
        .envelope(401);
    srv.post(path, json!({"refresh_token": next}))
        .await
        .envelope(400);
    srv.post(
        path,
        json!({"refresh_token": next, "grant_type": "password"}),
    )
    .await
    .envelope(400);
    srv.post(
        path,
        json!({"refresh_token": next, "grant_type": "access_token", "reset_secret": "maybe"}),
    )
    .await
    .envelope(400);

    // reset_secret: every older token dies, the new ones work.
    let r = srv
        .post(
            path,
            json!({"refresh_token": next, "grant_type": "access_token", "reset_secret": "1"}),
        )
        .await
        .data();
    let fresh = r["token"].as_str().unwrap().to_owned();
    let fresh_refresh = r["refresh_token"].as_str().unwrap().to_owned();
    for old in [&access, &new_access] {
        srv.get(&format!("/api/user/friends?access_token={old}"))
            .await
            .envelope(401);
    }
    srv.get(&format!("/api/user/friends?access_token={fresh}"))
        .await
        .data();
    srv.post(
        path,
        json!({"refresh_token": fresh_refresh, "grant_type": "access_token"}),
    )
    .await
    .data();
}

/// A refresh token is good once: presented again (a stolen copy, or the victim's after the
/// thief used it), it is refused and every token of the user is revoked, so the thief's new
/// tokens die too.
#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_users_tokens() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let (access, stolen) = (tok(&d), d["refresh_token"].as_str().unwrap().to_owned());
    let path = "/api/user/refresh_token";
    let body = |t: &str| json!({"refresh_token": t, "grant_type": "access_token"});
    let thief = srv.post(path, body(&stolen)).await.data();
    let thief_access = thief["token"].as_str().unwrap().to_owned();
    let thief_refresh = thief["refresh_token"].as_str().unwrap().to_owned();
    srv.get(&format!("/api/user/friends?access_token={thief_access}"))
        .await
        .data();

    // The owner presents the same (spent) refresh token.
    srv.post(path, body(&stolen)).await.envelope(401);
    for t in [&access, &thief_access] {
        srv.get(&format!("/api/user/friends?access_token={t}"))
            .await
            .envelope(401);
    }
    srv.post(path, body(&thief_refresh)).await.envelope(401);
    // Signing in again works.
    let again = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await
        .data();
    srv.get(&format!("/api/user/friends?access_token={}", tok(&again)))
        .await
        .data();
}

#[tokio::test]
async fn token_sources_and_401s() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let access = tok(&d);
    let refresh = d["refresh_token"].as_str().unwrap();

    srv.get("/api/user/friends").await.envelope(401);
    srv.get("/api/user/friends?access_token=a.b.c")
        .await
        .envelope(401);
    srv.get(&format!("/api/user/friends?access_token={refresh}"))
        .await
        .envelope(401);
    // A token signed with another secret.
    let forged = {
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        parts.join(".")
    };
    srv.get(&format!("/api/user/friends?access_token={forged}"))
        .await
        .envelope(401);

    let bearer = format!("Bearer {access}");
    for (name, value) in [
        ("Authorization", bearer.as_str()),
        ("Token", access.as_str()),
        ("Auth-Token", access.as_str()),
    ] {
        let r = srv
            .req("GET", "/api/user/friends", &[(name, value)], b"")
            .await;
        assert_eq!(r.data()["total"], 0, "{name}");
    }
    // In a JSON body.
    let r = srv
        .req(
            "GET",
            "/api/user/friends",
            &[("Content-Type", "application/json")],
            json!({"access_token": access}).to_string().as_bytes(),
        )
        .await;
    r.data();

    // 401 wins over 400: no token and no arguments, or no token and a malformed body.
    srv.post("/api/user/friend/add", json!({}))
        .await
        .envelope(401);
    srv.req(
        "POST",
        "/api/user/friend/add",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .await
    .envelope(401);
    // With a token, the malformed body is a 400.
    srv.req(
        "POST",
        "/api/user/friend/add",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        b"{not json",
    )
    .await
    .envelope(400);
    srv.req(
        "POST",
        "/api/user/login",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .await
    .envelope(400);
    srv.req(
        "POST",
        "/api/user/login",
        &[("Content-Type", "application/json")],
        b"[1, 2]",
    )
    .await
    .envelope(400);

    // Logout revokes.
    srv.post("/api/user/logout", json!({})).await.envelope(401);
    srv.post("/api/user/logout", json!({"access_token": access}))
        .await
        .data();
    srv.get(&format!("/api/user/friends?access_token={access}"))
        .await
        .envelope(401);
    srv.post(
        "/api/user/refresh_token",
        json!({"refresh_token": refresh, "grant_type": "access_token"}),
    )
    .await
    .envelope(401);
}

#[tokio::test]
async fn logout_closes_im_connections() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let mut outbox = online(&srv.engine, &d).await;
    srv.post("/api/user/logout", json!({"access_token": tok(&d)}))
        .await
        .data();
    let mut revoked = false;
    while let Ok(Some(f)) = tokio::time::timeout(Duration::from_secs(5), outbox.recv()).await {
        revoked |= f.msg().content.starts_with("E_AUTH_REVOKED");
    }
    assert!(revoked, "the connection got E_AUTH_REVOKED and closed");
}

/// Logs `user` in on an in-process IM connection and returns its outbox after the SUCCESS.
async fn online(engine: &Engine, user: &Value) -> easyim_core::Outbox {
    let (conn, mut outbox) = engine.open();
    let (mut tx, rx) = futures::channel::mpsc::channel(8);
    tokio::spawn(conn.run(rx));
    let login = Msg {
        from_user_id: user["id"].as_str().unwrap().to_owned(),
        to_user_id: "KEEP_ALIVE".into(),
        msg_type: MsgType::Event as i32,
        access_token: tok(user),
        content: "127.0.0.1".into(),
        ..Msg::default()
    };
    use futures::SinkExt as _;
    tx.send(Ok(login)).await.unwrap();
    // Keep the input open for as long as the test runs.
    tokio::spawn(async move {
        let _tx = tx;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let first = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.msg().content, "SUCCESS");
    outbox
}

#[tokio::test]
async fn search_users() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    srv.register("alfred").await;
    srv.register("bob").await;
    let path = format!("/api/user/search?access_token={}&account=al", tok(&a));
    let items = srv.get(&path).await.data()["items"].clone();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["account"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"alice") && names.contains(&"alfred"));
    let first = &items[0];
    for key in ["id", "account", "nickname", "avatar"] {
        assert!(first.get(key).is_some());
    }
    assert!(first["id"].is_string());
    srv.get(&format!("/api/user/search?access_token={}", tok(&a)))
        .await
        .envelope(400);
    srv.get("/api/user/search?account=al").await.envelope(401);
}

// ---- friends -------------------------------------------------------------------------------

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

// ---- groups --------------------------------------------------------------------------------

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

// ---- history -------------------------------------------------------------------------------

async fn store(engine: &Engine, from: u64, to: u64, chat_type: ChatType, n: usize) {
    for i in 0..n {
        let out = engine
            .messages()
            .store_message(NewMessage {
                id: format!("m{from}-{i}"),
                from,
                to,
                chat_type,
                msg_type: 0,
                content: format!("c{i}"),
                timestamp: 1_700_000_000_000 + i as i64,
                ref_id: String::new(),
            })
            .await
            .unwrap();
        assert!(matches!(out, StoreOutcome::Stored { .. }), "{out:?}");
    }
}

fn seqs(data: &Value) -> Vec<u64> {
    data["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["conv_seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn history_pages() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    let b = srv.register("bob").await;
    let c = srv.register("carol").await;
    let (ta, tb, tc) = (tok(&a), tok(&b), tok(&c));
    store(&srv.engine, id_of(&a), id_of(&b), ChatType::Single, 6).await;
    let q = |token: &str, extra: &str| {
        format!(
            "/api/messages?access_token={token}&chat_type=0&peer_id={}{extra}",
            a["id"].as_str().unwrap()
        )
    };

    let all = srv.get(&q(&tb, "")).await.data();
    assert_eq!(seqs(&all), [6, 5, 4, 3, 2, 1], "newest first by default");
    let first = &all["items"][5];
    assert_eq!(first["id"], format!("m{}-0", id_of(&a)));
    assert_eq!(first["from_user_id"], a["id"]);
    assert_eq!(first["to_user_id"], b["id"]);
    assert_eq!(first["chat_type"], 0);
    assert_eq!(first["content"], "c0");
    assert_eq!(first["status"], 1, "SENT: no receipt yet");
    assert_eq!(first["timestamp"], 1_700_000_000_000i64);
    assert!(first.get("access_token").is_none());

    assert_eq!(seqs(&srv.get(&q(&tb, "&limit=2")).await.data()), [6, 5]);
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&before_seq=5&limit=3")).await.data()),
        [4, 3, 2]
    );
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&after_seq=2&limit=3")).await.data()),
        [3, 4, 5]
    );
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&after_seq=0")).await.data()),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(seqs(&srv.get(&q(&tb, "&limit=200")).await.data()).len(), 6);
    // The sender sees the same conversation.
    let peer_b = format!(
        "/api/messages?access_token={ta}&chat_type=0&peer_id={}&after_seq=5",
        b["id"].as_str().unwrap()
    );
    assert_eq!(seqs(&srv.get(&peer_b).await.data()), [6]);
    // Someone else's view of a with c is empty.
    assert!(seqs(&srv.get(&q(&tc, "")).await.data()).is_empty());

    // A receipt shows in the status.
    srv.engine
        .messages()
        .record_receipt(
            id_of(&b),
            Conversation::direct(id_of(&a), id_of(&b)),
            &format!("m{}-2", id_of(&a)),
            Receipt::Read,
        )
        .await
        .unwrap();
    let page = srv.get(&q(&tb, "&after_seq=2&limit=2")).await.data();
    assert_eq!(page["items"][0]["status"], 3, "READ");
    assert_eq!(page["items"][1]["status"], 1, "SENT");

    for bad in [
        "&limit=0",
        "&limit=201",
        "&limit=-1",
        "&limit=ten",
        "&before_seq=3&after_seq=1",
        "&before_seq=x",
    ] {
        srv.get(&q(&tb, bad)).await.envelope(400);
    }
    srv.get(&format!("/api/messages?access_token={tb}&peer_id=1"))
        .await
        .envelope(400);
    srv.get(&format!(
        "/api/messages?access_token={tb}&chat_type=2&peer_id=1"
    ))
    .await
    .envelope(400);
    srv.get(&format!("/api/messages?access_token={tb}&chat_type=0"))
        .await
        .envelope(400);
    srv.get(&format!(
        "/api/messages?access_token={tb}&chat_type=0&peer_id=999"
    ))
    .await
    .envelope(404);
    srv.get("/api/messages?chat_type=0&limit=0")
        .await
        .envelope(401);

    // Groups: members only.
    let gid = srv
        .post(
            "/api/group/create",
            json!({"access_token": ta, "name": "g", "member_ids": [b["id"]]}),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    store(&srv.engine, id_of(&a), gid, ChatType::Group, 3).await;
    let gq = |token: &str| format!("/api/messages?access_token={token}&chat_type=1&peer_id={gid}");
    let page = srv.get(&gq(&tb)).await.data();
    assert_eq!(seqs(&page), [3, 2, 1]);
    assert_eq!(page["items"][0]["chat_type"], 1);
    assert_eq!(page["items"][0]["to_user_id"], gid.to_string());
    srv.get(&gq(&tc)).await.envelope(403);
    srv.get(&format!(
        "/api/messages?access_token={tc}&chat_type=1&peer_id=4242"
    ))
    .await
    .envelope(404);
    // JSON body with numbers works the same.
    let r = srv
        .req(
            "GET",
            "/api/messages",
            &[("Content-Type", "application/json")],
            json!({"access_token": tb, "chat_type": 1, "peer_id": gid, "limit": 1})
                .to_string()
                .as_bytes(),
        )
        .await
        .data();
    assert_eq!(seqs(&r), [3]);
}

// ---- the HTTP surface ----------------------------------------------------------------------

#[tokio::test]
async fn routing_errors_cors_and_limits() {
    let srv = Api::start_with(ApiOpts {
        config: ApiConfig::default()
            .with_max_body_bytes(1024)
            .with_rate_limit(0),
        ..ApiOpts::default()
    })
    .await;
    srv.get("/api/no/such/route").await.envelope(404);
    srv.post("/nothing", json!({})).await.envelope(404);
    let r = srv.get("/api/user/login").await;
    r.envelope(405);
    srv.post("/api/user/friends", json!({})).await.envelope(405);

    let big = json!({"account": "a", "password": "x".repeat(2000)});
    srv.post("/api/user/register", big).await.envelope(413);

    for path in ["/api/user/login", "/anything/at/all"] {
        let r = srv
            .req(
                "OPTIONS",
                path,
                &[
                    ("Origin", "http://example.test"),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "Token, Content-Type"),
                ],
                b"",
            )
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(r
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        let allow = r
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for h in [
            "token",
            "auth-token",
            "authorization",
            "content-type",
            "x-requested-with",
        ] {
            assert!(allow.contains(h), "{h} in {allow}");
        }
        assert!(r.header("access-control-max-age").is_some());
    }
}

#[tokio::test]
async fn health_metrics_and_console() {
    let srv = Api::start().await;
    let h = srv.get("/healthz").await.data();
    assert_eq!(h, json!({"status": "ok"}));

    srv.get("/api/nope").await;
    let m = srv.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert_eq!(m.header("access-control-allow-origin"), Some("*"));
    let text = m.text();
    assert!(text.contains("easyim_connections "), "{text}");
    assert!(
        text.contains("easyim_http_requests_total{class=\"2xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("easyim_http_requests_total{class=\"4xx\"} 1"),
        "{text}"
    );

    for (path, ct) in [
        ("/", "text/html"),
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with(ct), "{path}");
        assert!(!r.body.is_empty());
    }
}

/// POST /api/local/stop, with the stop key header if `key` is given.
async fn stop(srv: &Api, key: Option<&str>) -> support::Resp {
    let headers: Vec<(&str, &str)> = key
        .map(|k| vec![("X-Easyim-Stop-Key", k)])
        .unwrap_or_default();
    srv.req("POST", "/api/local/stop", &headers, b"").await
}

/// POST /api/local/stop needs both: a loopback peer, and the key the server wrote owner-only
/// (any web page in a local browser can POST to loopback; it cannot read the file).
#[tokio::test]
async fn local_stop_only_from_loopback_with_the_key() {
    let key = "the-stop-key";
    let with_key = |peer: Option<std::net::IpAddr>| ApiOpts {
        config: ApiConfig::default().with_stop_key(key),
        peer,
        ..ApiOpts::default()
    };
    let srv = Api::start_with(with_key(None)).await;
    stop(&srv, None).await.envelope(403);
    stop(&srv, Some("the-stop-kex")).await.envelope(403);
    stop(&srv, Some("the")).await.envelope(403);
    assert!(
        !srv.stop.is_cancelled(),
        "no stop without the key, even from loopback"
    );
    stop(&srv, Some(key)).await.data();
    assert!(srv.stop.is_cancelled());

    // A server with no key cannot be stopped over HTTP at all.
    let keyless = Api::start().await;
    stop(&keyless, Some(key)).await.envelope(403);
    assert!(!keyless.stop.is_cancelled());

    let remote = Api::start_with(with_key(Some("10.1.2.3".parse().unwrap()))).await;
    stop(&remote, Some(key)).await.envelope(403);
    assert!(!remote.stop.is_cancelled());
    remote.get("/api/local/stop").await.envelope(405);
}

#[tokio::test]
async fn register_and_login_are_rate_limited() {
    let srv = Api::start_with(ApiOpts {
        config: ApiConfig::default()
            .with_max_body_bytes(1 << 20)
            .with_rate_limit(2),
        ..ApiOpts::default()
    })
    .await;
    // Without a password the answer is a quick 400: no password check whose duration (on a
    // loaded machine) would refill the bucket between the calls.
    let login = json!({"account": "nobody"});
    srv.post("/api/user/login", login.clone())
        .await
        .envelope(400);
    srv.post("/api/user/login", login.clone())
        .await
        .envelope(400);
    srv.post("/api/user/login", login.clone())
        .await
        .envelope(429);
    srv.post(
        "/api/user/register",
        json!({"account": "a", "password": "b"}),
    )
    .await
    .envelope(429);
    // Other routes are not limited.
    srv.get("/healthz").await.data();
    tokio::time::sleep(Duration::from_millis(600)).await;
    srv.post("/api/user/login", login).await.envelope(400);
}

// ---- storage failures ----------------------------------------------------------------------

/// A `MemoryStorage` that fails every call on demand, with an error text that must never reach
/// a client.
type Flaky = FailingStorage<MemoryStorage>;

#[tokio::test]
async fn storage_failures_are_500_and_503_without_details() {
    let flaky = Arc::new(Flaky::with_reason(
        MemoryStorage::new(),
        "disk on fire at /var/secret/path",
    ));
    let srv = Api::start_with(ApiOpts {
        storage: Some(flaky.clone()),
        ..ApiOpts::default()
    })
    .await;
    let a = srv.register("alice").await;
    flaky.fail_all(true);

    let h = srv.get("/healthz").await;
    h.envelope(503);
    for r in [
        srv.post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await,
        srv.post(
            "/api/user/register",
            json!({"account": "bob", "password": "pw"}),
        )
        .await,
        srv.get(&format!("/api/user/friends?access_token={}", tok(&a)))
            .await,
    ] {
        let v = r.envelope(500);
        let msg = v["msg"].as_str().unwrap();
        assert!(!msg.contains("disk") && !msg.contains("/var"), "{msg}");
    }

    flaky.fail_all(false);
    srv.get("/healthz").await.data();
    srv.get(&format!("/api/user/friends?access_token={}", tok(&a)))
        .await
        .data();
}

// ---- paged lists and group limits ----------------------------------------------------------

/// GETs `route` page by page (`limit` items a page) and returns the pages' items, concatenated;
/// checks that every page but the last is full and has a cursor, and the last has none.
async fn all_pages(srv: &Api, route: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let path = format!("{route}&limit={limit}&cursor={cursor}");
        let data = srv.get(&path).await.data();
        let page = data["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit, "{path}: {} items", page.len());
        cursor = data["cursor"].as_str().expect("a cursor string").to_owned();
        items.extend(page.iter().cloned());
        if cursor.is_empty() {
            return items;
        }
        assert_eq!(page.len(), limit, "{path}: a page with a cursor is full");
    }
    panic!("{route}: the pages do not end");
}

fn ids(items: &[Value]) -> Vec<u64> {
    items.iter().map(id_of).collect()
}

#[tokio::test]
async fn lists_are_paged_with_a_cursor() {
    let srv = Api::start().await;
    let me = srv.register("me").await;
    let t = tok(&me);
    let mut others = Vec::new();
    for i in 0..7 {
        others.push(srv.register(&format!("other{i}")).await);
    }
    let mut request_ids = Vec::new();
    for o in &others {
        let add = json!({"access_token": tok(o), "to_user_id": me["id"]});
        let r = srv.post("/api/user/friend/add", add).await.data();
        request_ids.push(id_of(&r));
    }

    // Requests, newest first, in pages of 3: 3 + 3 + 1.
    let route = format!("/api/user/friend/requests?access_token={t}");
    let got = ids(&all_pages(&srv, &route, 3).await);
    let mut want = request_ids.clone();
    want.reverse();
    assert_eq!(got, want, "requests, newest first, in pages");
    for id in &request_ids {
        let accept = json!({"access_token": t, "id": id.to_string()});
        srv.post("/api/user/friend/accept", accept).await.data();
    }

    // Friends, by id, with the total of all of them on every page.
    let route = format!("/api/user/friends?access_token={t}");
    let first = srv.get(&format!("{route}&limit=2")).await.data();
    assert_eq!(first["total"], 7, "total counts every friend: {first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let got = ids(&all_pages(&srv, &route, 2).await);
    let mut want = ids(&others);
    want.sort_unstable();
    assert_eq!(got, want, "friends, by id, in pages");
    // Old clients send no limit: the first 50, and no cursor here.
    let all = srv.get(&route).await.data();
    assert_eq!(all["cursor"], "", "a single page has no cursor");
    assert_eq!(ids(all["items"].as_array().unwrap()), want);

    // Groups and members.
    let mut group_ids = Vec::new();
    for _ in 0..5 {
        let create = json!({"access_token": t, "name": "g", "member_ids": ids(&others)});
        group_ids.push(id_of(&srv.post("/api/group/create", create).await.data()));
    }
    group_ids.sort_unstable();
    let route = format!("/api/groups?access_token={t}");
    let groups = all_pages(&srv, &route, 2).await;
    assert_eq!(ids(&groups), group_ids, "groups, by id, in pages");
    assert!(groups.iter().all(|g| g["member_count"] == 8), "{groups:?}");
    let route = format!(
        "/api/group/members?access_token={t}&group_id={}",
        group_ids[0]
    );
    let mut want = want.clone();
    want.push(id_of(&me));
    want.sort_unstable();
    assert_eq!(
        ids(&all_pages(&srv, &route, 3).await),
        want,
        "members, by id"
    );

    // Search takes a limit up to 50.
    let search = format!("/api/user/search?access_token={t}&account=other");
    let found = srv.get(&format!("{search}&limit=2")).await.data();
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    srv.get(&format!("{search}&limit=51")).await.envelope(400);

    // A bad limit or cursor is a 400, on every list.
    let friends_cursor = first["cursor"].as_str().unwrap().to_owned();
    assert!(!friends_cursor.is_empty());
    for route in [
        format!("/api/user/friends?access_token={t}"),
        format!("/api/user/friend/requests?access_token={t}"),
        format!("/api/groups?access_token={t}"),
        format!(
            "/api/group/members?access_token={t}&group_id={}",
            group_ids[0]
        ),
    ] {
        for bad in [
            "limit=0",
            "limit=201",
            "limit=abc",
            "limit=-1",
            "cursor=zz",
            "cursor=f",
        ] {
            let r = srv.get(&format!("{route}&{bad}")).await;
            let v = r.envelope(400);
            assert!(
                v["msg"]
                    .as_str()
                    .unwrap()
                    .contains(bad.split('=').next().unwrap()),
                "{v}"
            );
        }
        srv.get(&format!("{route}&limit=200")).await.data();
    }
    let r = srv
        .get(&format!(
            "/api/groups?access_token={t}&cursor={friends_cursor}"
        ))
        .await;
    r.envelope(400);
}

/// An API over its own engine on `MemoryStorage` with these limits, driven without a socket.
struct Limited(axum::Router);

impl Limited {
    fn new(limits: Limits) -> Limited {
        let storage = Arc::new(MemoryStorage::new());
        let auth = Arc::new(JwtAuth::new(
            storage.clone(),
            "test-secret",
            7200,
            2_592_000,
        ));
        let im = Im::new(storage, auth, EngineConfig::default()).with_limits(limits);
        Limited(api_router(
            im,
            ApiConfig::default(),
            CancellationToken::new(),
        ))
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let headers = [("Content-Type", "application/json")];
        let body = body.to_string();
        oneshot(&self.0, peer, "POST", path, &headers, body.as_bytes()).await
    }

    async fn user(&self, account: &str) -> (String, String) {
        let body = json!({"account": account, "password": "pw-123456"});
        let data = self.post("/api/user/register", body).await.data();
        (data["id"].as_str().unwrap().to_owned(), tok(&data))
    }
}

#[tokio::test]
async fn group_limits_are_403_and_id_lists_are_capped() {
    let limits = Limits::default()
        .with_max_group_members(3)
        .with_max_groups_per_user(2);
    let srv = Limited::new(limits);
    let (a, ta) = srv.user("alice").await;
    let (b, tb) = srv.user("bob").await;
    let (c, _) = srv.user("carol").await;
    let (d, _) = srv.user("dave").await;

    // MAX_GROUP_MEMBERS: 3, the owner included.
    let create = |members: Vec<&str>| json!({"access_token": ta, "name": "g", "member_ids": members, "join_policy": "open"});
    let r = srv
        .post("/api/group/create", create(vec![&b, &c, &d]))
        .await;
    let v = r.envelope(403);
    assert!(v["msg"].as_str().unwrap().contains("full"), "{v}");
    let g1 = srv
        .post("/api/group/create", create(vec![&b, &c]))
        .await
        .data();
    let invite = json!({"access_token": ta, "group_id": g1["id"], "user_ids": [d]});
    srv.post("/api/group/invite", invite).await.envelope(403);
    let join = json!({"access_token": tb, "group_id": g1["id"]});
    srv.post("/api/group/join", join).await.data();

    // MAX_GROUPS_PER_USER: 2. Alice is in g1; one more, then no more.
    srv.post("/api/group/create", create(vec![])).await.data();
    let r = srv.post("/api/group/create", create(vec![])).await;
    let v = r.envelope(403);
    assert!(v["msg"].as_str().unwrap().contains("groups"), "{v}");
    let (_, te) = srv.user("erin").await;
    let solo = json!({"access_token": te, "name": "e", "member_ids": [a]});
    srv.post("/api/group/create", solo).await.envelope(403);
    let ge = srv
        .post(
            "/api/group/create",
            json!({"access_token": te, "name": "e", "join_policy": "open"}),
        )
        .await
        .data();
    let join = json!({"access_token": ta, "group_id": ge["id"]});
    srv.post("/api/group/join", join).await.envelope(403);
    let invite = json!({"access_token": te, "group_id": ge["id"], "user_ids": [a]});
    srv.post("/api/group/invite", invite).await.envelope(403);

    // At most 200 ids per call.
    let many: Vec<String> = (1..=201).map(|i| i.to_string()).collect();
    let r = srv
        .post(
            "/api/group/create",
            json!({"access_token": te, "name": "x", "member_ids": many}),
        )
        .await;
    let v = r.envelope(400);
    assert!(v["msg"].as_str().unwrap().contains("200"), "{v}");
    let invite = json!({"access_token": te, "group_id": ge["id"], "user_ids": many});
    srv.post("/api/group/invite", invite).await.envelope(400);
}

/// The two limits are settings of the server (`MAX_GROUP_MEMBERS`, `MAX_GROUPS_PER_USER`).
#[tokio::test]
async fn group_limits_are_server_settings() {
    let srv = support::start(&[("MAX_GROUP_MEMBERS", "2"), ("MAX_GROUPS_PER_USER", "1")]).await;
    let a = srv.user("alice").await;
    let b = srv.user("bob").await;
    let c = srv.user("carol").await;
    let create = |owner: &support::User, members: Vec<&str>| json!({"access_token": owner.token, "name": "g", "member_ids": members});
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&a, vec![&b.id, &c.id])),
    )
    .await;
    assert_eq!(status, 403, "past MAX_GROUP_MEMBERS");
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&a, vec![&b.id])),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&c, vec![&a.id])),
    )
    .await;
    assert_eq!(status, 403, "past MAX_GROUPS_PER_USER");
    srv.shutdown().await;
}
