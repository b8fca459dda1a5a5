//! TLS on both ports, with a certificate made in the test: framed protobuf, JSON lines, `wss://`
//! and `https://` on the IM port, `https://` and `wss://` on the API port, plaintext beside it (or refused with
//! `TLS_REQUIRED`), a stalled handshake freeing its place, the certificate reloaded on SIGHUP,
//! and a bad certificate file stopping the server at start.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use easyim_proto::{ChatType, MsgStatus};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server over TLS with `ca`'s certificate and `extra` settings.
async fn start_tls(ca: &TestCa, extra: &[(&str, &str)]) -> TestServer {
    let files = ca.settings();
    let mut settings: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings.extend_from_slice(extra);
    start(&settings).await
}

/// Whether a fresh plain `GET /healthz` gets its 200 (false: closed at accept, the server is
/// full).
async fn gets_in(api: SocketAddr) -> bool {
    let call = try_request(api, "GET", "/healthz", &[], b"");
    matches!(tokio::time::timeout(Duration::from_secs(2), call).await, Ok(Ok(r)) if r.status == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_protobuf_over_tls_reaches_a_plaintext_peer_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "server");
    let srv = start_tls(&ca, &[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login_tls(srv.im, Kind::FramedProto, &alice, &ca).await;
    let mut b = Client::login(srv.im, Kind::FramedProto, &bob).await;

    a.send(&text(
        &alice,
        &bob.id,
        ChatType::Single,
        "t-1",
        2,
        "over TLS",
    ))
    .await;
    let ack = a.recv().await;
    assert_eq!((ack.id.as_str(), ack.seq), ("t-1", 2));
    assert_eq!(ack.status, MsgStatus::Sent as i32);
    let d = b.recv().await;
    assert_eq!((d.id.as_str(), d.content.as_str()), ("t-1", "over TLS"));
    assert_eq!(d.from_user_id, alice.id);

    // And the other way: plaintext to TLS.
    b.send(&text(
        &bob,
        &alice.id,
        ChatType::Single,
        "p-1",
        2,
        "in clear",
    ))
    .await;
    assert_eq!(b.recv().await.id, "p-1");
    let d = a.recv().await;
    assert_eq!((d.id.as_str(), d.content.as_str()), ("p-1", "in clear"));
    a.assert_alive(&alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_and_json_lines_over_tls_and_wss_on_the_api_port() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "server");
    let srv = start_tls(&ca, &[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login_tls(srv.im, Kind::WsText, &alice, &ca).await;
    let mut b = Client::login_tls(srv.im, Kind::Lines, &bob, &ca).await;
    a.send(&text(
        &alice,
        &bob.id,
        ChatType::Single,
        "w-1",
        2,
        "hello wss",
    ))
    .await;
    assert_eq!(a.recv().await.id, "w-1");
    let d = b.recv().await;
    assert_eq!((d.id.as_str(), d.content.as_str()), ("w-1", "hello wss"));
    a.assert_alive(&alice).await;
    b.assert_alive(&bob).await;
    // wss:// on the API port too.
    let mut c = Client::login_tls(srv.api, Kind::WsBinary, &bob, &ca).await;
    a.send(&text(&alice, &bob.id, ChatType::Single, "w-2", 3, "both"))
        .await;
    assert_eq!(a.recv().await.id, "w-2");
    assert_eq!(b.recv().await.id, "w-2");
    // The new connection first gets what is still pending for Bob (w-1, never read), then w-2.
    assert_eq!(c.recv().await.id, "w-1");
    assert_eq!(c.recv().await.id, "w-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_on_both_ports_and_plaintext_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "server");
    let srv = start_tls(&ca, &[]).await;
    let body = json!({"account": "carol", "password": PASSWORD}).to_string();
    let json_type = [("Content-Type", "application/json")];
    // Register over https on the API port, log in over https on the IM port.
    let r = https(
        srv.api,
        &ca,
        "POST",
        "/api/user/register",
        &json_type,
        body.as_bytes(),
    )
    .await;
    r.envelope(200);
    let r = https(
        srv.im,
        &ca,
        "POST",
        "/api/user/login",
        &json_type,
        body.as_bytes(),
    )
    .await;
    assert!(r.data()["access_token"].is_string(), "{}", r.text());
    // The web console over https on the API port.
    let r = https(srv.api, &ca, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<html") || r.text().contains("<!DOCTYPE"));
    // Plaintext is still taken on both ports.
    for port in [srv.api, srv.im] {
        let r = request(port, "GET", "/healthz", &[], b"").await;
        assert_eq!(r.status, 200, "plain on {port}");
    }
    let carol = register(srv.api, "dave").await;
    Client::login(srv.im, Kind::Lines, &carol)
        .await
        .assert_alive(&carol)
        .await;
    // A handshake record that is garbage is closed at once (at most a TLS alert), on either port.
    for port in [srv.im, srv.api] {
        let mut s = TcpStream::connect(port).await.unwrap();
        s.write_all(&[0x16, 0xff, 0xff, 0x00, 0x04, 1, 2, 3, 4])
            .await
            .unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a bad handshake on {port} was left open");
    }
    // A client that does not trust the certificate fails its handshake, and the server goes on.
    let other = TestCa::new(dir.path(), "other");
    assert!(try_https(srv.api, &other, "GET", "/healthz", &[], b"")
        .await
        .is_err());
    assert_eq!(
        https(srv.api, &ca, "GET", "/healthz", &[], b"")
            .await
            .status,
        200
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_refuses_plaintext_on_both_ports() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "server");
    let srv = start_tls(&ca, &[("TLS_REQUIRED", "true")]).await;
    for port in [srv.api, srv.im] {
        // Plain HTTP: a short 400 that says why.
        let r = request(port, "GET", "/healthz", &[], b"").await;
        let v = r.envelope(400);
        assert!(
            v["msg"].as_str().unwrap().contains("TLS is required"),
            "{v}"
        );
        // Anything else plain: closed at once, nothing said.
        let mut s = TcpStream::connect(port).await.unwrap();
        s.write_all(b"{\"id\":\"x\"}\n\0\0\0\x05hello")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let t0 = Instant::now();
        let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
        assert!(buf.is_empty(), "plain bytes answered on {port}: {buf:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "closed at once");
        // TLS goes through.
        let r = https(port, &ca, "GET", "/healthz", &[], b"").await;
        assert_eq!(r.status, 200, "https on {port}");
    }
    let alice = {
        let body = json!({"account": "alice", "password": PASSWORD}).to_string();
        let r = https(
            srv.api,
            &ca,
            "POST",
            "/api/user/register",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        let data = r.data();
        User {
            id: data["id"].as_str().unwrap().to_owned(),
            token: data["access_token"].as_str().unwrap().to_owned(),
        }
    };
    Client::login_tls(srv.im, Kind::FramedProto, &alice, &ca)
        .await
        .assert_alive(&alice)
        .await;
    srv.shutdown().await;
}

/// A client that starts a handshake and never finishes it holds its place only until
/// `AUTH_TIMEOUT`, on either port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_frees_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "server");
    let srv = start_tls(&ca, &[("MAX_CONNECTIONS", "1"), ("AUTH_TIMEOUT", "1")]).await;
    for port in [srv.im, srv.api] {
        // The first bytes of a ClientHello record, and then nothing. If the last check's
        // connection still held the one place, this one was closed at accept: again.
        let t0 = Instant::now();
        let mut stalled = loop {
            let mut s = TcpStream::connect(port).await.unwrap();
            s.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            if !gets_in(srv.api).await {
                break s; // it holds the place: nobody else gets in
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "never held the place"
            );
        };
        let mut buf = Vec::new();
        let t0 = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut buf));
        assert!(
            closed.await.is_ok(),
            "the stalled handshake on {port} was not closed"
        );
        eprintln!("closed after {:?} more", t0.elapsed());
        let t0 = Instant::now();
        while !gets_in(srv.api).await {
            assert!(t0.elapsed() < Duration::from_secs(5), "no place freed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    srv.shutdown().await;
}

/// SIGHUP reads the files again: new connections get the new certificate, a live one goes on;
/// a bad file at reload keeps the certificate in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_switches_the_certificate_for_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestCa::new(dir.path(), "server");
    let files = first.settings();
    let env: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut p = spawn(dir.path(), &env).await;
    let alice = register(p.api, "alice").await;
    let mut live = Client::login_tls(p.im, Kind::FramedProto, &alice, &first).await;

    let second = TestCa::issue(&first.cert_file, &first.key_file);
    hangup(&p);
    let t0 = Instant::now();
    while try_https(p.api, &second, "GET", "/healthz", &[], b"")
        .await
        .is_err()
    {
        assert!(t0.elapsed() < WAIT, "the new certificate is not in use");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        try_https(p.im, &first, "GET", "/healthz", &[], b"")
            .await
            .is_err(),
        "new connections no longer get the old certificate"
    );
    live.assert_alive(&alice).await;

    // A bad file: the second certificate stays, and the log says why.
    std::fs::write(&first.cert_file, "not a certificate\n").unwrap();
    hangup(&p);
    let log = dir.path().join("server.log");
    let t0 = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("not reloaded")
    {
        assert!(t0.elapsed() < WAIT, "no word of the failed reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("TLS_CERT_FILE"), "{text}");
    assert!(p.child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(
        https(p.im, &second, "GET", "/healthz", &[], b"")
            .await
            .status,
        200
    );
    live.assert_alive(&alice).await;
}

/// Sends SIGHUP to the server process.
fn hangup(p: &Proc) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A certificate or key that cannot be used stops the server at start with a message naming
/// the setting and the file.
#[test]
fn a_bad_certificate_file_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let good = TestCa::new(dir.path(), "good");
    let other = TestCa::new(dir.path(), "other");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cases = [
        (&garbage, &good.key_file, "TLS_CERT_FILE", &garbage),
        (&missing, &good.key_file, "TLS_CERT_FILE", &missing),
        (
            &good.key_file,
            &good.key_file,
            "TLS_CERT_FILE",
            &good.key_file,
        ),
        (
            &good.cert_file,
            &good.cert_file,
            "TLS_KEY_FILE",
            &good.cert_file,
        ),
        (
            &good.cert_file,
            &other.key_file,
            "TLS_KEY_FILE",
            &other.key_file,
        ),
    ];
    for (cert, key, setting, file) in cases {
        let log = dir.path().join("start.log");
        let mut child = command(dir.path())
            .env("SERVER_PORT", "0")
            .env("API_SERVER_PORT", "0")
            .env("SERVER_IP", "127.0.0.1")
            .env("TLS_CERT_FILE", cert)
            .env("TLS_KEY_FILE", key)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if t0.elapsed() > WAIT {
                let _ = child.kill();
                panic!("{setting} {file:?}: the server started anyway");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let err = std::fs::read_to_string(&log).unwrap();
        assert!(!status.success(), "{setting} {file:?}: exit {status}");
        assert!(err.contains(setting), "{setting}: {err}");
        assert!(err.contains(&*file.to_string_lossy()), "{file:?}: {err}");
    }
}
