//! The gate of the server API over real sockets: wrong tokens are 401 and then rate limited,
//! the API is off without ADMIN_TOKEN and never served on the IM port, and every call is
//! audited in the log without the token.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn bad_tokens_are_401_then_rate_limited() {
    let srv = admin_server().await;
    let body = json!({});
    for auth in [
        "",
        "Bearer",
        "Bearer wrong",
        &format!("Basic {TOKEN}"),
        &format!("Bearer {TOKEN}x"),
    ] {
        let (status, v) = admin_with(srv.api, "GET", "/api/admin/server/state", &body, auth).await;
        assert_eq!(status, 401, "{auth:?}: {v}");
        assert_eq!(v["code"], 401);
    }
    // The burst is spent: even the right token waits now (nothing tells a guess from it).
    let (status, _) = admin_with(
        srv.api,
        "GET",
        "/api/admin/server/state",
        &body,
        "Bearer wrong",
    )
    .await;
    assert_eq!(status, 429);
    let (status, _) = admin(srv.api, "GET", "/api/admin/server/state", &body).await;
    assert_eq!(status, 429);
    let metrics = request(srv.api, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains(
            "easyim_admin_requests_total{route=\"/api/admin/server/state\",status=\"401\"} 5"
        ),
        "{metrics}"
    );
    // User tokens are no admin tokens.
    let srv2 = admin_server().await;
    let alice = srv2.user("alice").await;
    let (status, _) = admin_with(
        srv2.api,
        "GET",
        "/api/admin/server/state",
        &body,
        &format!("Bearer {}", alice.token),
    )
    .await;
    assert_eq!(status, 401);
    srv.shutdown().await;
    srv2.shutdown().await;
}

#[tokio::test]
async fn off_without_admin_token_and_never_on_the_im_port() {
    let off = start(&[]).await;
    let (status, v) = admin(off.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["code"], 404);
    let (status, _) = admin(
        off.api,
        "POST",
        "/api/admin/user/disable",
        &json!({"user_id": "1"}),
    )
    .await;
    assert_eq!(status, 404);
    off.shutdown().await;

    let srv = admin_server().await;
    let (status, _) = admin(srv.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 200);
    // The IM port speaks HTTP too, but not the server API.
    let (status, v) = admin(srv.im, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = admin(
        srv.im,
        "POST",
        "/api/admin/users/create",
        &json!({"users": [{"account": "x"}]}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = http(srv.im, "GET", "/healthz", None).await;
    assert_eq!(status, 200, "the IM port still serves the rest");
    srv.shutdown().await;
}

#[tokio::test]
async fn every_call_is_audited_in_the_log_without_the_token() {
    let (dir, p) = spawn_temp(&[("ADMIN_TOKEN", TOKEN), ("LOG_LEVEL", "info")]).await;
    let (status, _) = admin(p.api, "GET", "/api/admin/server/state", &json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = admin_with(
        p.api,
        "POST",
        "/api/admin/user/kick",
        &json!({}),
        "Bearer guess-0123456789abcdef",
    )
    .await;
    assert_eq!(status, 401);
    p.kill();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("easyim::audit"))
        .collect();
    assert_eq!(audit.len(), 2, "{log}");
    assert!(
        audit[0].contains("/api/admin/server/state") && audit[0].contains("status=200"),
        "{}",
        audit[0]
    );
    assert!(
        audit[1].contains("/api/admin/user/kick") && audit[1].contains("status=401"),
        "{}",
        audit[1]
    );
    assert!(audit.iter().all(|l| l.contains("127.0.0.1")), "{audit:?}");
    assert!(
        !log.contains(TOKEN) && !log.contains("guess-0123456789abcdef"),
        "a token in the log: {log}"
    );
}
