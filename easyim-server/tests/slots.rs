//! Every connection frees its place under `MAX_CONNECTIONS`: a request whose body never
//! arrives, a request that trickles, and a WebSocket client that stops reading are dropped
//! within the configured timeouts, and others get in again.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use easyim_proto::ChatType;
use futures::SinkExt;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Whether a fresh `GET /healthz` gets its 200 (false: closed at accept, the server is full).
async fn gets_in(api: SocketAddr) -> bool {
    let call = try_request(api, "GET", "/healthz", &[], b"");
    matches!(tokio::time::timeout(Duration::from_secs(2), call).await, Ok(Ok(r)) if r.status == 200)
}

/// Polls until a new connection gets in, for at most `limit`; how long that took.
async fn frees_within(api: SocketAddr, limit: Duration) -> Duration {
    let t0 = Instant::now();
    while !gets_in(api).await {
        assert!(t0.elapsed() < limit, "no place freed within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t0.elapsed()
}

/// A request head with a body that never comes (or comes a byte at a time) holds its place
/// only until the read timeout (`AUTH_TIMEOUT`) or the request deadline (`WRITE_TIMEOUT`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_frees_its_place() {
    let srv = start(&[
        ("MAX_CONNECTIONS", "2"),
        ("AUTH_TIMEOUT", "1"),
        ("WRITE_TIMEOUT", "3"),
    ])
    .await;
    let head = "POST /api/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{";
    let mut silent = TcpStream::connect(srv.api).await.unwrap();
    silent.write_all(head.as_bytes()).await.unwrap();
    // The other one sends a byte every half second: never silent long enough for the read
    // timeout, so only the request deadline ends it.
    let mut trickle = TcpStream::connect(srv.api).await.unwrap();
    trickle.write_all(head.as_bytes()).await.unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if trickle.write_all(b" ").await.is_err() {
                return true;
            }
        }
        false
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!gets_in(srv.api).await, "both places are taken");

    // The silent one is closed after about AUTH_TIMEOUT.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the silent request was not closed");
    let took = frees_within(srv.api, Duration::from_secs(5)).await;
    eprintln!("a place was free again after {took:?}");
    // The trickling one is cut at the request deadline.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), dripping)
            .await
            .expect("the trickling request was cut")
            .unwrap(),
        "the trickling request was cut"
    );
}

/// A WebSocket client that logs in and then stops reading while the server has megabytes for
/// it (its pending messages) is dropped once a write makes no progress for `WRITE_TIMEOUT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_stops_reading_frees_its_place() {
    let srv = start(&[("MAX_CONNECTIONS", "2"), ("WRITE_TIMEOUT", "2")]).await;
    let alice = register(srv.api, "alice").await;
    let bob = register(srv.api, "bob").await;
    // 24 MB pending for Bob: more than the socket buffers of both ends hold.
    let body = "x".repeat(8000);
    // Alice stays connected: she holds one of the two places, Bob will hold the other. (The
    // registrations' places are given back as their connections end: let them.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a = Client::login(srv.im, Kind::Lines, &alice).await;
    for i in 0..3000u32 {
        let m = text(
            &alice,
            &bob.id,
            ChatType::Single,
            &format!("m{i}"),
            i + 1,
            &body,
        );
        a.send(&m).await;
    }
    for _ in 0..3000 {
        assert_eq!(a.recv().await.status, 1, "acked");
    }
    let url = format!("ws://{}/", srv.im);
    let (mut ws, _) = loop {
        // The registrations' places may take a moment to be given back.
        match tokio_tungstenite::connect_async(&url).await {
            Ok(ws) => break ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let login = serde_json::to_string(&login_json(bob.uid(), &bob.token)).unwrap();
    ws.send(WsMessage::text(login)).await.unwrap();
    // Bob never reads. The server fills the sockets, then its writes stall.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!gets_in(srv.api).await, "Alice and Bob hold both places");
    let took = frees_within(srv.api, Duration::from_secs(15)).await;
    eprintln!("Bob's place was free again after {took:?}");
    a.assert_alive(&alice).await;
    drop(ws);
}
