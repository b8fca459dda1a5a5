//! The HTTP surface.

use super::*;

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
