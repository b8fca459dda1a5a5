//! Nobody let in: the real `easyim` binary against spoofed senders, outsiders, forged,
//! expired and revoked tokens, slowloris, connection floods, rate limits and 10,000 garbage
//! connections; and its safe defaults (random secrets, argon2id, no secrets in the logs).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../support/mod.rs"]
mod support;
use support::*;

fn is_error(v: &Value, code: &str) -> bool {
    num(v, "msg_type") == 5 && field(v, "content").starts_with(&format!("{code}:"))
}

/// A login with `token` as `uid` is refused with E_AUTH and the connection is closed.
async fn im_login_refused(im: SocketAddr, uid: u64, token: &str, what: &str) {
    let mut c = Client::connect(im, Kind::Lines).await;
    c.send_json(&login_json(uid, token)).await.unwrap();
    let v = c.next_json().await.expect("an answer");
    assert!(is_error(&v, "E_AUTH"), "{what}: {v}");
    assert!(c.next_json().await.is_none(), "{what}: closed after E_AUTH");
}

/// An API call with `token` is 401.
async fn api_refused(api: SocketAddr, token: &str, what: &str) {
    let (status, v) = http(
        api,
        "GET",
        &format!("/api/user/friends?access_token={token}"),
        None,
    )
    .await;
    assert_eq!(status, 401, "{what}: {v}");
}

mod floods;
mod outsiders;
mod tokens;
