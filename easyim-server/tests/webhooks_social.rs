//! Friend and group webhook events end to end: a real receiver gets `friend.*` and `group.*`
//! signed, in the order of the changes, with their data; `WEBHOOK_EVENTS=friend.*,group.*`
//! leaves out everything else (the chat message and the NOTIFY messages the changes store are
//! stored, but no `message.created` is written).

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;

use easyim_proto::{ChatType, MsgStatus};
use serde_json::{json, Value};
use support::*;

const SECRET: &str = "a-webhook-secret-of-some-length";

async fn post_as(api: SocketAddr, u: &User, path: &str, mut body: Value) -> Value {
    body["access_token"] = json!(u.token);
    let (status, v) = http(api, "POST", path, Some(&body)).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

/// The events received, each once (delivery is at least once), in arrival order.
fn once(events: &[Value]) -> Vec<Value> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|e| seen.insert(e["id"].as_str().unwrap().to_owned()))
        .cloned()
        .collect()
}

fn types(events: &[Value], family: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with(family))
        .collect()
}

fn find<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let e = events
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {events:#?}"));
    &e["data"]
}

#[tokio::test]
async fn friend_and_group_changes_arrive_signed_in_order_and_alone() {
    let rx = Receiver::start().await;
    let s = [
        ("WEBHOOK_URL", rx.url()),
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("WEBHOOK_RETRY_MIN_MS", "50".to_owned()),
        ("WEBHOOK_RETRY_MAX_MS", "200".to_owned()),
        ("WEBHOOK_EVENTS", "friend.*,group.*".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = s.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = start(&pairs).await;
    let a = srv.user("social_a").await;
    let b = srv.user("social_b").await;
    let c = srv.user("social_c").await;

    // Friends: a asks b, b accepts; c asks b, b refuses; a removes b.
    let asked = post_as(
        srv.api,
        &a,
        "/api/user/friend/add",
        json!({"to_user_id": b.id, "msg": "hi"}),
    )
    .await;
    let request = asked["data"]["id"].as_str().unwrap().to_owned();
    post_as(
        srv.api,
        &b,
        "/api/user/friend/accept",
        json!({"id": request}),
    )
    .await;
    let other = post_as(
        srv.api,
        &c,
        "/api/user/friend/add",
        json!({"to_user_id": b.id}),
    )
    .await;
    let other = other["data"]["id"].as_str().unwrap().to_owned();
    post_as(srv.api, &b, "/api/user/friend/refuse", json!({"id": other})).await;
    post_as(
        srv.api,
        &a,
        "/api/user/friend/remove",
        json!({"friend_id": b.id}),
    )
    .await;

    // A group: created with b, c invited, everyone muted, c kicked, a chat message, dismissed.
    let group = create_group(srv.api, &a, &[&b]).await;
    let g = json!(group);
    post_as(
        srv.api,
        &a,
        "/api/group/invite",
        json!({"group_id": g, "user_ids": [c.id]}),
    )
    .await;
    post_as(
        srv.api,
        &a,
        "/api/group/mute_all",
        json!({"group_id": g, "muted": true}),
    )
    .await;
    post_as(
        srv.api,
        &a,
        "/api/group/kick",
        json!({"group_id": g, "user_ids": [c.id]}),
    )
    .await;
    let mut conn = Client::login(srv.im, Kind::Lines, &a).await;
    conn.send(&text(&a, &group, ChatType::Group, "sg-1", 1, "hello"))
        .await;
    let ack = conn.recv().await;
    assert_eq!(ack.id, "sg-1");
    assert_eq!(ack.status, MsgStatus::Sent as i32, "stored: {ack:?}");
    post_as(srv.api, &a, "/api/group/dismiss", json!({"group_id": g})).await;

    let got = rx
        .wait_for("group.dismissed", |e| {
            e.iter().any(|e| e["type"] == "group.dismissed")
                && e.iter().any(|e| e["type"] == "friend.removed")
        })
        .await;
    for d in rx.deliveries() {
        d.assert_signed(SECRET);
    }
    let events = once(&got);
    assert!(
        types(&events, "")
            .iter()
            .all(|t| t.starts_with("friend.") || t.starts_with("group.")),
        "friend.* and group.* only, no message.created nor user.registered: {events:#?}"
    );
    assert_eq!(
        types(&events, "friend."),
        [
            "friend.requested",
            "friend.accepted",
            "friend.requested",
            "friend.refused",
            "friend.removed"
        ],
        "the friend changes in order"
    );
    assert_eq!(
        types(&events, "group."),
        [
            "group.created",
            "group.member_joined",
            "group.muted",
            "group.member_kicked",
            "group.dismissed"
        ],
        "the group's changes in order"
    );

    let requested = find(&events, "friend.requested");
    assert_eq!(
        requested,
        &json!({"request_id": request, "from_user_id": a.id, "to_user_id": b.id, "msg": "hi"})
    );
    let accepted = find(&events, "friend.accepted");
    assert_eq!(
        accepted,
        &json!({"request_id": request, "from_user_id": a.id, "to_user_id": b.id})
    );
    assert_eq!(find(&events, "friend.refused")["request_id"], json!(other));
    assert_eq!(
        find(&events, "friend.removed"),
        &json!({"user_id": a.id, "friend_id": b.id})
    );
    assert_eq!(
        find(&events, "group.created"),
        &json!({"group_id": group, "event": "group_created", "actor": a.id,
                "targets": [b.id], "name": "g"})
    );
    assert_eq!(
        find(&events, "group.member_joined"),
        &json!({"group_id": group, "event": "member_joined", "actor": a.id,
                "targets": [c.id]})
    );
    assert_eq!(
        find(&events, "group.muted"),
        &json!({"group_id": group, "event": "group_muted", "actor": a.id})
    );
    assert_eq!(
        find(&events, "group.member_kicked"),
        &json!({"group_id": group, "event": "member_kicked", "actor": a.id,
                "targets": [c.id]})
    );
    assert_eq!(
        find(&events, "group.dismissed"),
        &json!({"group_id": group, "event": "group_dismissed", "actor": a.id})
    );
    srv.shutdown().await;
}
