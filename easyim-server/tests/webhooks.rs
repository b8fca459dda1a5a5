//! Webhooks end to end: a real receiver on a socket, events from the durable outbox, signed,
//! in order per conversation, nothing lost while the receiver is down or when easyim is
//! SIGKILLed with events waiting; and nothing written while webhooks are off.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use easyim_proto::{ChatType, MsgStatus, MsgType};
use serde_json::Value;
use support::*;

const SECRET: &str = "a-webhook-secret-of-some-length";

fn settings(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOK_URL", url.to_owned()),
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("WEBHOOK_RETRY_MIN_MS", "50".to_owned()),
        ("WEBHOOK_RETRY_MAX_MS", "200".to_owned()),
        ("WEBHOOK_TIMEOUT_MS", "2000".to_owned()),
    ]
}

fn pairs<'a>(s: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    s.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Sends `n` messages `<tag>-<i>` from `from` to `to` over one connection and waits for
/// every ack (acked: stored, so its event is in the outbox).
async fn send_acked(im: SocketAddr, from: &User, to: &User, tag: &str, n: u32) {
    let mut c = Client::login(im, Kind::Lines, from).await;
    for i in 1..=n {
        let id = format!("{tag}-{i}");
        c.send(&text(from, &to.id, ChatType::Single, &id, i, "hello"))
            .await;
    }
    for i in 1..=n {
        let ack = c.recv().await;
        assert_eq!(ack.id, format!("{tag}-{i}"), "acks in order: {ack:?}");
        assert_eq!(ack.status, MsgStatus::Sent as i32);
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The `message.created` events with ids starting `tag`, as (id, conv_seq) in arrival order
/// with repeats (at least once) removed.
fn messages(events: &[Value], tag: &str) -> Vec<(String, u64)> {
    let mut seen = HashSet::new();
    of_type(events, "message.created")
        .into_iter()
        .filter(|e| seen.insert(e["id"].as_str().unwrap().to_owned()))
        .map(|e| &e["data"]["message"])
        .filter(|m| m["id"].as_str().unwrap().starts_with(tag))
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["conv_seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn expected(tag: &str, n: u64) -> Vec<(String, u64)> {
    (1..=n).map(|i| (format!("{tag}-{i}"), i)).collect()
}

#[tokio::test]
async fn events_arrive_signed_in_order_with_their_data() {
    let rx = Receiver::start().await;
    let s = settings(&rx.url());
    let srv = start(&pairs(&s)).await;
    let a = srv.user("hook_a").await;
    let b = srv.user("hook_b").await;
    send_acked(srv.im, &a, &b, "in", 20).await;
    let events = rx
        .wait_for("20 messages", |e| messages(e, "in").len() >= 20)
        .await;
    assert_eq!(
        messages(&events, "in"),
        expected("in", 20),
        "in conv_seq order"
    );
    for d in rx.deliveries() {
        d.assert_signed(SECRET);
    }
    // Every event id unique; user.registered for both users, before their messages.
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<HashSet<_>>().len(),
        "ids unique"
    );
    let regs: Vec<&str> = of_type(&events, "user.registered")
        .iter()
        .map(|e| e["data"]["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(regs, vec![a.id.as_str(), b.id.as_str()]);
    let first = of_type(&events, "message.created")[0];
    assert_eq!(first["attempt"], 1);
    assert!(first["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    let data = &first["data"];
    assert_eq!(data["recipients"], serde_json::json!([b.id]));
    assert_eq!(data["message"]["from_user_id"], a.id.as_str());
    assert_eq!(data["message"]["to_id"], b.id.as_str());
    assert_eq!(data["message"]["chat_type"], "single");
    assert_eq!(data["message"]["content"], "hello");
    let (lo, hi) = (a.uid().min(b.uid()), a.uid().max(b.uid()));
    assert_eq!(data["conversation"], format!("d:{lo}:{hi}"));
    // /metrics: every event delivered, none failed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let m = metrics(srv.api).await;
    assert!(metric(&m, "easyim_webhook_delivered_total") >= 22.0, "{m}");
    assert_eq!(metric(&m, "easyim_webhook_failures_total"), 0.0);
    assert_eq!(metric(&m, "easyim_webhook_outbox_depth"), 0.0);
    srv.shutdown().await;
}

#[tokio::test]
async fn webhook_events_selects_the_kinds_written() {
    let rx = Receiver::start().await;
    let mut s = settings(&rx.url());
    s.push(("WEBHOOK_EVENTS", "message.created".to_owned()));
    let srv = start(&pairs(&s)).await;
    let a = srv.user("sel_a").await;
    let b = srv.user("sel_b").await;
    send_acked(srv.im, &a, &b, "sel", 3).await;
    let events = rx
        .wait_for("3 messages", |e| messages(e, "sel").len() >= 3)
        .await;
    assert!(
        of_type(&events, "user.registered").is_empty(),
        "user.registered is not selected: {events:#?}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn receiver_down_then_up_loses_nothing() {
    let rx = Receiver::start().await;
    rx.set_down(true);
    let s = settings(&rx.url());
    let srv = start(&pairs(&s)).await;
    let a = srv.user("down_a").await;
    let b = srv.user("down_b").await;
    // Acked while the receiver refuses everything: each ack's event waits in the outbox.
    send_acked(srv.im, &a, &b, "down", 10).await;
    let t0 = std::time::Instant::now();
    while rx.refused() < 3 {
        assert!(t0.elapsed() < WAIT, "the dispatcher does not retry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let m = metrics(srv.api).await;
    assert!(metric(&m, "easyim_webhook_failures_total") >= 3.0, "{m}");
    assert!(metric(&m, "easyim_webhook_outbox_depth") >= 12.0, "{m}");
    assert!(
        metric(&m, "easyim_webhook_outbox_oldest_age_seconds") > 0.0,
        "{m}"
    );
    assert!(rx.events().is_empty());
    rx.set_down(false);
    let events = rx
        .wait_for("10 messages after the receiver came up", |e| {
            messages(e, "down").len() >= 10
        })
        .await;
    assert_eq!(messages(&events, "down"), expected("down", 10));
    // Retried events say so.
    assert!(
        of_type(&events, "message.created")[0]["attempt"]
            .as_u64()
            .unwrap()
            > 1
    );
    for d in rx.deliveries() {
        d.assert_signed(SECRET);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn sigkill_with_events_waiting_sends_them_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there yet: every POST fails to connect.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let s = settings(&url);
    let env = pairs(&s);
    let server = spawn(dir.path(), &env).await;
    let a = register(server.api, "kill_a").await;
    let b = register(server.api, "kill_b").await;
    send_acked(server.im, &a, &b, "kill", 15).await;
    server.kill();
    let rx = Receiver::start_on(port).await;
    let server = spawn(dir.path(), &env).await;
    // The batch in flight at the kill waits for its lease (2 * 2 s + 5 s) to run out.
    let events = rx
        .wait_for("15 messages and 2 registrations after the restart", |e| {
            messages(e, "kill").len() >= 15 && of_type(e, "user.registered").len() >= 2
        })
        .await;
    assert_eq!(messages(&events, "kill"), expected("kill", 15));
    drop(server);
}

#[tokio::test]
async fn webhooks_off_write_nothing_and_show_no_metrics() {
    let srv = start(&[]).await;
    let a = srv.user("off_a").await;
    let b = srv.user("off_b").await;
    send_acked(srv.im, &a, &b, "off", 5).await;
    let m = metrics(srv.api).await;
    assert!(!m.contains("easyim_webhook"), "{m}");
    let dir = srv.shutdown().await;
    let db = rusqlite::Connection::open(dir.path().join("easyim.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "webhooks off: the outbox stays empty");
}

#[tokio::test]
async fn a_bad_webhook_setting_stops_the_server_at_start() {
    let mut s = easyim_server::Sources::default();
    s.set("WEBHOOK_URL", "http://127.0.0.1:9/h");
    s.set("WEBHOOK_SECRET", "short");
    let err = s.config().unwrap_err().to_string();
    assert!(err.contains("WEBHOOK_SECRET"), "{err}");
    assert!(!err.contains("short"), "the secret is not echoed: {err}");
}

async fn post_as(api: SocketAddr, u: &User, path: &str, mut body: Value) -> Value {
    body["access_token"] = serde_json::json!(u.token);
    let (status, v) = http(api, "POST", path, Some(&body)).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

#[tokio::test]
async fn message_offline_names_offline_recipients_their_devices_and_mute() {
    let rx = Receiver::start().await;
    let s = settings(&rx.url());
    let srv = start(&pairs(&s)).await;
    let a = srv.user("off_line_a").await;
    let b = srv.user("off_line_b").await;
    let c = srv.user("off_line_c").await;
    post_as(
        srv.api,
        &b,
        "/api/user/device",
        serde_json::json!({"platform": "fcm", "token": "tok-b"}),
    )
    .await;
    // c is online: no message.offline for it.
    let mut c_conn = Client::login(srv.im, Kind::Lines, &c).await;
    send_acked(srv.im, &a, &b, "ob", 1).await;
    send_acked(srv.im, &a, &c, "oc", 1).await;
    let _ = c_conn.recv().await; // c got its message live
                                 // b mutes the conversation with a; the next event says so.
    post_as(
        srv.api,
        &b,
        "/api/conversation/settings",
        serde_json::json!({"chat_type": 0, "peer_id": a.id, "muted": true}),
    )
    .await;
    send_acked(srv.im, &a, &b, "om", 1).await;
    let events = rx
        .wait_for("two message.offline events", |e| {
            of_type(e, "message.offline").len() >= 2 && messages(e, "om").len() == 1
        })
        .await;
    let offline = of_type(&events, "message.offline");
    assert_eq!(
        offline.len(),
        2,
        "none for the online recipient: {offline:#?}"
    );
    let first = &offline[0]["data"];
    assert_eq!(first["user_id"], b.id.as_str());
    assert_eq!(first["message"]["id"], "ob-1");
    assert_eq!(first["muted"], false);
    assert_eq!(
        first["devices"],
        serde_json::json!([{"platform": "fcm", "token": "tok-b"}])
    );
    assert_eq!(offline[1]["data"]["message"]["id"], "om-1");
    assert_eq!(offline[1]["data"]["muted"], true);
    // Each follows its message.created (same conversation key).
    let pos = |kind: &str, id: &str| {
        events
            .iter()
            .position(|e| e["type"] == kind && e["data"]["message"]["id"] == id)
            .unwrap()
    };
    assert!(pos("message.created", "ob-1") < pos("message.offline", "ob-1"));
    srv.shutdown().await;
}

#[tokio::test]
async fn user_online_and_offline_follow_the_first_and_last_connection() {
    let rx = Receiver::start().await;
    let mut s = settings(&rx.url());
    s.push(("WEBHOOK_EVENTS", "user.online,user.offline".to_owned()));
    let srv = start(&pairs(&s)).await;
    let a = srv.user("presence_a").await;
    let c1 = Client::login(srv.im, Kind::Lines, &a).await;
    let mut c2 = Client::login(srv.im, Kind::Lines, &a).await;
    c2.assert_alive(&a).await;
    drop(c1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(c2);
    let events = rx.wait_for("online then offline", |e| e.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = if rx.events().len() > events.len() {
        rx.events()
    } else {
        events
    };
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["user.online", "user.offline"], "{events:#?}");
    for e in &events {
        assert_eq!(e["data"]["user_id"], a.id.as_str());
        assert_eq!(e["data"]["node_id"], 1);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn recall_and_edit_are_their_own_events_naming_their_target() {
    let rx = Receiver::start().await;
    let mut s = settings(&rx.url());
    s.push((
        "WEBHOOK_EVENTS",
        "message.created,message.edited,message.recalled".to_owned(),
    ));
    let srv = start(&pairs(&s)).await;
    let a = srv.user("amend_a").await;
    let b = srv.user("amend_b").await;
    let mut c = Client::login(srv.im, Kind::Lines, &a).await;
    c.send(&text(&a, &b.id, ChatType::Single, "orig-1", 1, "helo"))
        .await;
    let mut edit = text(&a, &b.id, ChatType::Single, "edit-1", 2, "hello");
    edit.msg_type = MsgType::Edit as i32;
    edit.ref_id = "orig-1".into();
    c.send(&edit).await;
    let mut recall = text(&a, &b.id, ChatType::Single, "recall-1", 3, "");
    recall.msg_type = MsgType::Recall as i32;
    recall.ref_id = "orig-1".into();
    c.send(&recall).await;
    for id in ["orig-1", "edit-1", "recall-1"] {
        let ack = c.recv().await;
        assert_eq!((ack.id.as_str(), ack.status), (id, MsgStatus::Sent as i32));
    }
    let events = rx
        .wait_for("the three events", |e| {
            !of_type(e, "message.recalled").is_empty()
        })
        .await;
    let kinds: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("message."))
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["data"]["message"]["id"].as_str().unwrap(),
                e["data"]["message"]["ref_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("message.created", "orig-1", ""),
            ("message.edited", "edit-1", "orig-1"),
            ("message.recalled", "recall-1", "orig-1"),
        ],
        "in conversation order, each naming its target"
    );
    let edited = of_type(&events, "message.edited")[0];
    assert_eq!(edited["data"]["message"]["content"], "hello");
    srv.shutdown().await;
}
