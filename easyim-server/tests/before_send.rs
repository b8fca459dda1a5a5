//! The before-send hook end to end: a real hook service on a socket allows, refuses and
//! replaces messages, in the order sent; a slow or broken hook is allowed or denied as
//! `BEFORE_SEND_ON_ERROR` says.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use easyim_proto::{ChatType, Msg, MsgStatus};
use serde_json::{json, Value};
use support::*;

/// A hook service that decides by the content's first word; records what it was asked.
struct Hook {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn decide(
    State(asked): State<Arc<Mutex<Vec<Value>>>>,
    Json(req): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    asked.lock().unwrap().push(req.clone());
    let content = req["message"]["content"].as_str().unwrap_or("").to_owned();
    match content.split_whitespace().next().unwrap_or("") {
        "refuse" => Json(json!({"action": "refuse", "reason": "no swearing here"})).into_response(),
        "replace" => Json(json!({"action": "replace", "content": "[redacted]"})).into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({"action": "allow"})).into_response()
        }
        "broken" => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "garbled" => "not json".into_response(),
        _ => Json(json!({"action": "allow"})).into_response(),
    }
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/check", post(decide))
            .with_state(asked.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hook { addr, asked, task }
    }

    fn url(&self) -> String {
        format!("http://{}/check", self.addr)
    }
}

/// Sends every `(id, content)` back to back on one connection and returns the answers in
/// the order they came.
async fn send_all(im: SocketAddr, from: &User, to: &User, msgs: &[(&str, &str)]) -> Vec<Msg> {
    let mut c = Client::login(im, Kind::Lines, from).await;
    for (i, (id, content)) in msgs.iter().enumerate() {
        c.send(&text(
            from,
            &to.id,
            ChatType::Single,
            id,
            i as u32 + 1,
            content,
        ))
        .await;
    }
    let mut out = Vec::new();
    for _ in msgs {
        out.push(c.recv().await);
    }
    out
}

fn assert_ack(m: &Msg, id: &str, content: &str, conv_seq: u64) {
    assert_eq!(m.status, MsgStatus::Sent as i32, "an ack: {m:?}");
    assert_eq!(
        (m.id.as_str(), m.content.as_str(), m.conv_seq),
        (id, content, conv_seq)
    );
}

#[tokio::test]
async fn the_hook_allows_refuses_and_replaces_in_the_order_sent() {
    let hook = Hook::start().await;
    let url = hook.url();
    let srv = start(&[("BEFORE_SEND_URL", url.as_str())]).await;
    let a = srv.user("bs_a").await;
    let b = srv.user("bs_b").await;
    let answers = send_all(
        srv.im,
        &a,
        &b,
        &[
            ("m1", "hello"),
            ("m2", "refuse this"),
            ("m3", "replace this"),
            ("m4", "bye"),
        ],
    )
    .await;
    assert_ack(&answers[0], "m1", "hello", 1);
    assert_error(&answers[1], "E_FORBIDDEN", "m2", 2);
    assert!(
        answers[1].content.ends_with("no swearing here"),
        "{:?}",
        answers[1]
    );
    assert_ack(&answers[2], "m3", "[redacted]", 2);
    assert_ack(&answers[3], "m4", "bye", 3);
    // Stored as decided: the refused one not at all, the replaced one replaced.
    let h = history(srv.api, &b.token, 0, a.uid()).await;
    let stored: Vec<(&str, &str)> = h
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stored,
        vec![("m1", "hello"), ("m3", "[redacted]"), ("m4", "bye")]
    );
    // The hook saw each message with its sender and recipient.
    let asked = hook.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 4);
    assert_eq!(asked[0]["message"]["from_user_id"], a.id.as_str());
    assert_eq!(asked[0]["message"]["to_id"], b.id.as_str());
    assert_eq!(asked[0]["message"]["chat_type"], "single");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_slow_or_broken_hook_is_allowed_by_default() {
    let hook = Hook::start().await;
    let url = hook.url();
    let srv = start(&[
        ("BEFORE_SEND_URL", url.as_str()),
        ("BEFORE_SEND_TIMEOUT_MS", "200"),
    ])
    .await;
    let a = srv.user("bsa_a").await;
    let b = srv.user("bsa_b").await;
    let t0 = std::time::Instant::now();
    let answers = send_all(
        srv.im,
        &a,
        &b,
        &[
            ("s1", "slow one"),
            ("s2", "broken one"),
            ("s3", "garbled one"),
        ],
    )
    .await;
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "the timeout cuts the wait"
    );
    assert_ack(&answers[0], "s1", "slow one", 1);
    assert_ack(&answers[1], "s2", "broken one", 2);
    assert_ack(&answers[2], "s3", "garbled one", 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_slow_or_broken_hook_is_denied_when_told() {
    let hook = Hook::start().await;
    let url = hook.url();
    let srv = start(&[
        ("BEFORE_SEND_URL", url.as_str()),
        ("BEFORE_SEND_TIMEOUT_MS", "200"),
        ("BEFORE_SEND_ON_ERROR", "deny"),
    ])
    .await;
    let a = srv.user("bsd_a").await;
    let b = srv.user("bsd_b").await;
    let answers = send_all(
        srv.im,
        &a,
        &b,
        &[("d1", "slow one"), ("d2", "broken one"), ("d3", "fine")],
    )
    .await;
    assert_error(&answers[0], "E_FORBIDDEN", "d1", 1);
    assert_error(&answers[1], "E_FORBIDDEN", "d2", 2);
    assert_ack(&answers[2], "d3", "fine", 1);
    // Nobody listening: denied too.
    drop(hook);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answers = send_all(srv.im, &a, &b, &[("d4", "fine")]).await;
    assert_error(&answers[0], "E_FORBIDDEN", "d4", 1);
    srv.shutdown().await;
}
