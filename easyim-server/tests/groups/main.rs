//! Running groups end to end over real sockets: join policies and guessed ids, roles, kick,
//! mute and `E_MUTED`, group events as messages (live, pending, history), what a newcomer
//! sees, and the owner's own rules.

#[path = "../support/mod.rs"]
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

mod joining;
mod moderation;
mod newcomers;
mod ownership;
