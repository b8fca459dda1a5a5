//! The HTTP API's handlers: envelopes, status codes, argument parsing, tokens, CORS and
//! limits, with requests sent straight into the router (no socket) over SQLite in a temporary
//! folder. The API over real sockets is in e2e.rs.

#[path = "../support/mod.rs"]
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

mod accounts;
mod failures;
mod friends;
mod groups;
mod history;
mod paging;
mod surface;
