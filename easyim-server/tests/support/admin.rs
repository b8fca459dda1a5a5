//! The server API from a test: its token, a server that has it, and calls with it.

use std::net::SocketAddr;

use serde_json::Value;

use super::{request, start, TestServer};

pub const TOKEN: &str = "admin-token-for-the-tests-0123456789";

pub async fn admin_server() -> TestServer {
    start(&[("ADMIN_TOKEN", TOKEN)]).await
}

/// A server API call with the admin token; the status and the JSON body.
pub async fn admin(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    admin_with(addr, method, path, body, &format!("Bearer {TOKEN}")).await
}

pub async fn admin_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &Value,
    authorization: &str,
) -> (u16, Value) {
    let body = body.to_string();
    let r = request(
        addr,
        method,
        path,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", authorization),
        ],
        body.as_bytes(),
    )
    .await;
    (r.status, r.json())
}

pub async fn admin_ok(addr: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = admin(addr, method, path, &body).await;
    assert_eq!(status, 200, "{method} {path} {body}: {v}");
    v["data"].clone()
}
