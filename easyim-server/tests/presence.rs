//! Presence over real sockets (protocol.md section 4, "Presence"; http-api.md
//! `GET /api/presence`): a user's online friends are told when its first connection opens
//! and its last one closes (once, whatever its devices), and the API answers for friends and
//! co-members only.

mod support;

use easyim_proto::{ChatType, Msg, MsgType};
use serde_json::{json, Value};
use support::*;

/// Makes `a` and `b` friends over the API.
async fn befriend(srv: &TestServer, a: &User, b: &User) {
    let add = json!({"access_token": a.token, "to_user_id": b.id});
    let (s, v) = http(srv.api, "POST", "/api/user/friend/add", Some(&add)).await;
    assert_eq!(s, 200, "{v}");
    let accept = json!({"access_token": b.token, "id": v["data"]["id"]});
    let (s, v) = http(srv.api, "POST", "/api/user/friend/accept", Some(&accept)).await;
    assert_eq!(s, 200, "{v}");
}

/// The frames `c` gets until the message `fence` (which `from` sends to `c`'s user `to`),
/// PRESENCE frames only.
async fn presence_until_fence(
    c: &mut Client,
    from: &mut Client,
    fu: &User,
    to: &User,
    fence: &str,
) -> Vec<Msg> {
    from.send(&text(fu, &to.id, ChatType::Single, fence, 1, "fence"))
        .await;
    let mut got = Vec::new();
    loop {
        let m = c.recv().await;
        if m.id == fence {
            return got;
        }
        if m.msg_type == MsgType::Presence as i32 {
            got.push(m);
        }
    }
}

async fn presence(srv: &TestServer, u: &User, ids: &str) -> (u16, Value) {
    let path = format!("/api/presence?access_token={}&user_ids={ids}", u.token);
    http(srv.api, "GET", &path, None).await
}

#[tokio::test]
async fn friends_are_told_once_per_user_whatever_its_devices() {
    let srv = start(&[]).await;
    let (a, b, c) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    befriend(&srv, &a, &b).await;
    let mut cb = Client::login(srv.im, Kind::FramedJson, &b).await;
    let mut cc = Client::login(srv.im, Kind::FramedJson, &c).await;

    // alice's first device: bob (a friend) is told, carol (a stranger) is not.
    let mut a1 = Client::login(srv.im, Kind::FramedProto, &a).await;
    let m = loop {
        let m = cb.recv().await;
        if m.msg_type == MsgType::Presence as i32 {
            break m;
        }
    };
    assert_eq!(
        (
            m.from_user_id.as_str(),
            m.to_user_id.as_str(),
            m.content.as_str()
        ),
        (a.id.as_str(), b.id.as_str(), "online"),
        "{m:?}"
    );
    assert!(m.timestamp > 0 && m.conv_seq == 0, "{m:?}");
    let to_carol = presence_until_fence(&mut cc, &mut a1, &a, &c, "f1").await;
    assert!(to_carol.is_empty(), "a stranger is not told: {to_carol:?}");

    // A second device, then the first one closing: nothing.
    let mut a2 = Client::login(srv.im, Kind::WsText, &a).await;
    drop(a1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = presence_until_fence(&mut cb, &mut a2, &a, &b, "f2").await;
    assert!(got.is_empty(), "alice stays online: {got:?}");
    let (s, v) = presence(&srv, &b, &a.id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["items"][0]["online"], true, "{v}");
    assert_eq!(v["data"]["items"][0]["last_seen"], 0, "{v}");

    // The last device closing: offline, once.
    drop(a2);
    let m = loop {
        let m = cb.recv().await;
        if m.msg_type == MsgType::Presence as i32 {
            break m;
        }
    };
    assert_eq!(
        (m.from_user_id.as_str(), m.content.as_str()),
        (a.id.as_str(), "offline")
    );
    let (s, v) = presence(&srv, &b, &a.id).await;
    assert_eq!(s, 200, "{v}");
    let item = &v["data"]["items"][0];
    assert_eq!(item["online"], false, "{v}");
    assert!(item["last_seen"].as_i64().unwrap() >= m.timestamp, "{v}");
    srv.shutdown().await;
}

#[tokio::test]
async fn the_api_answers_for_friends_and_co_members_only() {
    let srv = start(&[]).await;
    let (a, b, c, d) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
        srv.user("dave").await,
    );
    befriend(&srv, &a, &b).await;
    create_group(srv.api, &a, &[&d]).await;
    let _cb = Client::login(srv.im, Kind::Lines, &b).await;
    let _cc = Client::login(srv.im, Kind::Lines, &c).await;

    let ids = format!("{},{},{},{},{},999", c.id, b.id, d.id, a.id, b.id);
    let (s, v) = presence(&srv, &a, &ids).await;
    assert_eq!(s, 200, "{v}");
    let items: Vec<(String, bool)> = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (field(i, "id"), i["online"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        items,
        [(b.id.clone(), true), (d.id.clone(), false)],
        "the friend and the co-member, once each, in the order asked; the stranger carol \
         (online), oneself and an unknown id left out"
    );

    // Bad input: too many ids, none, not ids; no token.
    let many: Vec<String> = (1..=201).map(|i| i.to_string()).collect();
    let (s, v) = presence(&srv, &a, &many.join(",")).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = presence(&srv, &a, "x,1").await;
    assert_eq!(s, 400, "{v}");
    let path = format!("/api/presence?access_token={}", a.token);
    let (s, v) = http(srv.api, "GET", &path, None).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = http(srv.api, "GET", "/api/presence?user_ids=1", None).await;
    assert_eq!(s, 401);
    let (s, v) = presence(&srv, &a, "").await;
    assert_eq!(
        (s, v["data"]["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    srv.shutdown().await;
}
