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

// ---- senders and outsiders -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_sender_is_e_auth_kept_and_nothing_is_stored() {
    let (_dir, srv) = spawn_temp(&[]).await;
    let a = register(srv.api, "spoof-a").await;
    let b = register(srv.api, "spoof-b").await;
    let c = register(srv.api, "spoof-c").await;
    let mut ca = Client::login(srv.im, Kind::Lines, &a).await;
    let mut cc = Client::login(srv.im, Kind::Lines, &c).await;
    // A writes as B, to C.
    ca.send_json(&chat("spoof-1", b.uid(), c.uid(), 0))
        .await
        .unwrap();
    let v = ca.next_json().await.unwrap();
    assert!(is_error(&v, "E_AUTH"), "{v}");
    assert_eq!(field(&v, "id"), "spoof-1");
    // The connection stays and works; C got nothing; nothing was stored.
    assert!(ca.sync(a.uid(), "hb").await.is_empty());
    ca.send_json(&chat("real-1", a.uid(), c.uid(), 0))
        .await
        .unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    let got = cc.sync(c.uid(), "hb").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(field(&got[0], "id"), "real-1");
    assert!(history(srv.api, &c.token, 0, b.uid()).await.is_empty());
    assert_eq!(history(srv.api, &c.token, 0, a.uid()).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_cannot_write_to_read_or_list_a_group_or_read_others_chats() {
    let (_dir, srv) = spawn_temp(&[]).await;
    let a = register(srv.api, "out-a").await;
    let b = register(srv.api, "out-b").await;
    let c = register(srv.api, "out-c").await;
    let group: u64 = create_group(srv.api, &a, &[&b]).await.parse().unwrap();
    let mut ca = Client::login(srv.im, Kind::Lines, &a).await;
    let mut cb = Client::login(srv.im, Kind::Lines, &b).await;
    ca.send_json(&chat("g-1", a.uid(), group, 1)).await.unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    ca.send_json(&chat("d-1", a.uid(), b.uid(), 0))
        .await
        .unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    assert_eq!(cb.sync(b.uid(), "hb0").await.len(), 2);

    // C writes to the group: E_NOT_MEMBER, the connection stays, B gets nothing.
    let mut cc = Client::login(srv.im, Kind::Lines, &c).await;
    cc.send_json(&chat("intruder", c.uid(), group, 1))
        .await
        .unwrap();
    let v = cc.next_json().await.unwrap();
    assert!(is_error(&v, "E_NOT_MEMBER"), "{v}");
    assert!(cc.sync(c.uid(), "hb").await.is_empty(), "still connected");
    assert!(
        cb.sync(b.uid(), "hb1").await.is_empty(),
        "nothing delivered"
    );
    assert_eq!(history(srv.api, &a.token, 1, group).await.len(), 1);

    // C reads the group's history or its members: 403.
    for path in [
        format!(
            "/api/messages?access_token={}&chat_type=1&peer_id={group}&after_seq=0",
            c.token
        ),
        format!(
            "/api/group/members?access_token={}&group_id={group}",
            c.token
        ),
    ] {
        let (status, v) = http(srv.api, "GET", &path, None).await;
        assert_eq!(status, 403, "{path}: {v}");
    }
    // A 1:1 history always includes the caller: C asking for A or B sees its own (empty)
    // conversations, never A<->B.
    for peer in [a.uid(), b.uid()] {
        let items = history(srv.api, &c.token, 0, peer).await;
        assert!(items.is_empty(), "C sees {items:?}");
    }
    assert_eq!(history(srv.api, &b.token, 0, a.uid()).await.len(), 1);
}

// ---- tokens --------------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unb64url(s: &str) -> Vec<u8> {
    let vals: Vec<u32> = s
        .bytes()
        .map(|c| B64.iter().position(|&b| b == c).expect("base64url") as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | (v << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn base64url_round_trips() {
    for s in ["", "a", "ab", "abc", "abcd", "{\"alg\":\"HS256\"}"] {
        assert_eq!(unb64url(&b64url(s.as_bytes())), s.as_bytes());
    }
    assert_eq!(b64url(b"{\"a\"}"), "eyJhIn0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_revoked_tokens_are_refused_on_im_and_api() {
    let (_dir, srv) = spawn_temp(&[]).await;
    let victim = register(srv.api, "tok-victim").await;
    let attacker = register(srv.api, "tok-attacker").await;
    let claims = json!({"id": victim.uid().to_string(), "grant_type": "access_token",
                        "exp": now_s() + 3600, "iat": now_s()});
    let payload = b64url(claims.to_string().as_bytes());
    let none = format!("{}.{payload}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
    let mut sig = [0u8; 32];
    rand::thread_rng().fill(&mut sig);
    let wrong_key = format!(
        "{}.{payload}.{}",
        b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(&sig)
    );
    // The attacker's own valid token with the victim's id put in its payload.
    let parts: Vec<&str> = attacker.token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    let mut p: Value = serde_json::from_slice(&unb64url(parts[1])).unwrap();
    assert_eq!(p["id"], attacker.uid().to_string(), "claims {p}");
    p["id"] = json!(victim.uid().to_string());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(p.to_string().as_bytes()),
        parts[2]
    );
    for (what, token) in [
        ("alg none", &none),
        ("wrong key", &wrong_key),
        ("tampered payload", &tampered),
    ] {
        im_login_refused(srv.im, victim.uid(), token, what).await;
        api_refused(srv.api, token, what).await;
    }
    // The attacker's own token is fine, but not as the victim.
    im_login_refused(
        srv.im,
        victim.uid(),
        &attacker.token,
        "someone else's token",
    )
    .await;
    let mut ok = Client::login(srv.im, Kind::Lines, &attacker).await;
    assert!(ok.sync(attacker.uid(), "hb").await.is_empty());

    // Revoked: after logout the old token is refused everywhere, and the live connection is
    // closed with E_AUTH_REVOKED.
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/logout",
        Some(&json!({"access_token": attacker.token})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let v = ok.next_json().await.expect("a notice");
    assert!(is_error(&v, "E_AUTH_REVOKED"), "{v}");
    assert!(ok.next_json().await.is_none(), "closed");
    im_login_refused(srv.im, attacker.uid(), &attacker.token, "revoked").await;
    api_refused(srv.api, &attacker.token, "revoked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refused_on_im_and_api() {
    let (_dir, srv) = spawn_temp(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let u = register(srv.api, "expiring").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    im_login_refused(srv.im, u.uid(), &u.token, "expired").await;
    api_refused(srv.api, &u.token, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_random_per_folder_and_passwords_are_argon2id() {
    let (dir1, s1) = spawn_temp(&[]).await;
    let (dir2, s2) = spawn_temp(&[]).await;
    let u1 = register(s1.api, "folder-user").await;
    let u2 = register(s2.api, "folder-user").await;
    // A token of one folder's server means nothing to the other's.
    im_login_refused(s2.im, u1.uid(), &u1.token, "token of another folder").await;
    api_refused(s2.api, &u1.token, "token of another folder").await;
    api_refused(s1.api, &u2.token, "token of another folder").await;

    let read = |dir: &Path| {
        let db = rusqlite::Connection::open_with_flags(
            dir.join("easyim.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let secret: String = db
            .query_row(
                "SELECT value FROM settings WHERE key = 'server_secret'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let hash: String = db
            .query_row(
                "SELECT password_hash FROM users WHERE account = 'folder-user'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (secret, hash)
    };
    let (secret1, hash1) = read(dir1.path());
    let (secret2, hash2) = read(dir2.path());
    assert!(secret1.len() >= 32, "a long random secret");
    assert_ne!(secret1, secret2, "each folder has its own secret");
    for h in [&hash1, &hash2] {
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("pw-123456"));
    }
    assert_ne!(hash1, hash2, "salted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_in_debug_logs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = spawn(dir.path(), &[("RUST_LOG", "debug")]).await;
    let password = "Very-Secret-Pw-8841";
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/register",
        Some(&json!({"account": "logged", "password": password, "nickname": "L"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let peer = register(srv.api, "logged-peer").await;
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "logged", "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let d = &v["data"];
    let me = User {
        id: d["id"].as_str().unwrap().to_owned(),
        token: d["access_token"].as_str().unwrap().to_owned(),
    };
    let refresh = d["refresh_token"].as_str().unwrap().to_owned();
    let mut c = Client::login(srv.im, Kind::Lines, &me).await;
    c.send_json(&chat("logged-1", me.uid(), peer.uid(), 0))
        .await
        .unwrap();
    assert_eq!(num(&c.next_json().await.unwrap(), "conv_seq"), 1);
    // A wrong login, a bad token and a refresh get logged too.
    im_login_refused(srv.im, me.uid(), "not.a.token", "garbage token").await;
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "logged", "password": "Wrong-Pw-7781"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, v) = http(
        srv.api,
        "POST",
        "/api/user/refresh_token",
        Some(&json!({"refresh_token": refresh, "grant_type": "access_token"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let fresh = v["data"]["token"].as_str().unwrap().to_owned();
    // A broken HTTP request, which the server notes at debug level.
    let mut s = TcpStream::connect(srv.api).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nBroken header\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut sink)).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.kill();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("DEBUG"), "debug logs were on:\n{log}");
    let mut secrets = vec![
        password.to_owned(),
        "Wrong-Pw-7781".to_owned(),
        "pw-123456".to_owned(),
    ];
    for t in [&me.token, &refresh, &fresh, &peer.token] {
        secrets.push(t.clone());
        // The signature alone identifies a token too.
        secrets.push(t.rsplit('.').next().unwrap().to_owned());
    }
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "{s} appears in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_stop_refuses_a_non_loopback_peer() {
    // Which address would this machine use to reach the outside? (UDP connect sends nothing.)
    let local = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip());
    let ip = match local {
        Ok(ip) if !ip.is_loopback() && !ip.is_unspecified() => ip,
        other => {
            eprintln!("no non-loopback local address ({other:?}); tests/api.rs covers this");
            return;
        }
    };
    let (_dir, srv) = spawn_temp(&[("SERVER_IP", "0.0.0.0")]).await;
    let outside = SocketAddr::new(ip, srv.api.port());
    if TcpStream::connect(outside).await.is_err() {
        eprintln!("cannot reach {outside}; tests/api.rs covers this");
        return;
    }
    let key = std::fs::read_to_string(_dir.path().join("easyim.stop")).unwrap();
    let key = key.as_str();
    let stop = |addr| async move {
        let headers = [("X-Easyim-Stop-Key", key)];
        request(addr, "POST", "/api/local/stop", &headers, b"").await
    };
    let r = stop(outside).await;
    assert_eq!(r.status, 403, "even with the key: {}", r.text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http(srv.api, "GET", "/healthz", None).await.0, 200);
    let (status, v) = http(srv.api, "POST", "/api/local/stop", None).await;
    assert_eq!(status, 403, "from loopback without the key: {v}");
    let r = stop(srv.api).await;
    assert_eq!(r.status, 200, "from loopback with the key: {}", r.text());
}

// ---- floods --------------------------------------------------------------------------------

/// Waits until the peer closes `s` (EOF or reset); returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t0.elapsed()), s.read(&mut buf)).await {
            Err(_) => panic!("not closed within {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_closed_within_auth_timeout() {
    let (_dir, srv) = spawn_temp(&[("AUTH_TIMEOUT", "2")]).await;
    let u = register(srv.api, "slow").await;
    let frame = login_json(u.uid(), &u.token).to_string() + "\n";
    let mut framed = (frame.len() as u32 - 1).to_be_bytes().to_vec();
    framed.extend_from_slice(frame.trim_end().as_bytes());
    let http_req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_owned();
    let mut tasks = Vec::new();
    for (kind, bytes) in [
        ("json lines", frame.into_bytes()),
        ("framed", framed),
        ("http", http_req.into_bytes()),
        ("silent", Vec::new()),
    ] {
        let addr = srv.im;
        tasks.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = s.into_split();
            let dribble = tokio::spawn(async move {
                for b in bytes {
                    if w.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                std::future::pending::<()>().await;
            });
            let t0 = Instant::now();
            let mut buf = [0u8; 1024];
            loop {
                match tokio::time::timeout(Duration::from_secs(15), r.read(&mut buf)).await {
                    Err(_) => panic!("{kind}: not closed within 15 s"),
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => {}
                }
            }
            dribble.abort();
            let took = t0.elapsed();
            eprintln!("slowloris {kind}: closed after {took:?}");
            // AUTH_TIMEOUT is 2 s; a loaded machine gets a big margin.
            assert!(took < Duration::from_secs(10), "{kind}: {took:?}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The server is fine.
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_connections_are_closed_at_once() {
    let (_dir, srv) = spawn_temp(&[("MAX_CONNECTIONS", "20")]).await;
    let u = register(srv.api, "flood").await;
    // The readiness probes and the API calls above may hold a slot for a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(Client::login(srv.im, Kind::Lines, &u).await);
    }
    // Extra connections, on both ports: accepted by the kernel, closed by the server at once.
    for i in 0..30 {
        let addr = if i % 2 == 0 { srv.im } else { srv.api };
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(b"{\"x\":1}\n").await;
        let took = closed_within(&mut s, Duration::from_secs(10)).await;
        assert!(
            took < Duration::from_secs(5),
            "closed at once, not {took:?}"
        );
    }
    // The held ones are fine.
    for (i, c) in held.iter_mut().enumerate() {
        assert!(c.sync(u.uid(), &format!("hb{i}")).await.is_empty());
    }
    // A slot freed is a slot usable again.
    drop(held.pop());
    let t0 = Instant::now();
    loop {
        let mut c = Client::connect(srv.im, Kind::Lines).await;
        if c.send_json(&login_json(u.uid(), &u.token)).await.is_ok() {
            if let Some(v) = tokio::time::timeout(Duration::from_secs(10), c.read_json())
                .await
                .ok()
                .flatten()
            {
                assert_eq!(field(&v, "content"), "SUCCESS", "{v}");
                break;
            }
        }
        assert!(t0.elapsed() < WAIT, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_rate_limit_are_dropped_and_the_connection_stays() {
    let (_dir, srv) = spawn_temp(&[("RATE_LIMIT", "5")]).await;
    let u = register(srv.api, "chatty").await;
    let peer = register(srv.api, "chatty-peer").await;
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    for i in 0..30 {
        c.send_json(&chat(&format!("burst-{i}"), u.uid(), peer.uid(), 0))
            .await
            .unwrap();
    }
    let (mut acks, mut limited) = (0, 0);
    for _ in 0..30 {
        let v = c.next_json().await.unwrap();
        if is_error(&v, "E_RATE_LIMIT") {
            limited += 1;
        } else {
            assert_eq!(num(&v, "status"), 1, "{v}");
            acks += 1;
        }
    }
    eprintln!("rate limit 5/s: {acks} acked, {limited} refused of a burst of 30");
    assert!(limited >= 15, "{acks} acked, {limited} limited");
    assert!(acks >= 5);
    // Only what was acked is stored.
    assert_eq!(history(srv.api, &u.token, 0, peer.uid()).await.len(), acks);
    // The connection stays: after a pause, frames go through again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Opens `n` connections, `batch` at a time, each sending something random (or nothing) and
/// closing.
async fn garbage(addr: SocketAddr, n: usize, batch: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut done = 0;
    while done < n {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch.min(n - done) {
            let kind = rng.gen_range(0..6);
            let len = rng.gen_range(0..300);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            match kind {
                0 => bytes.clear(),
                1 if !bytes.is_empty() => bytes[0] = b'{',
                2 => bytes
                    .splice(0..0, b"GET / HTTP/1.1\r\nX: ".iter().copied())
                    .for_each(drop),
                3 => bytes.splice(0..0, [0, 0, 0, 200]).for_each(drop),
                _ => {}
            }
            let wait = rng.gen_bool(0.2);
            set.spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return;
                };
                let _ = s.write_all(&bytes).await;
                if wait {
                    // Read what the server answers, briefly.
                    let mut buf = [0u8; 512];
                    let _ = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
                }
            });
        }
        done += set.len();
        while set.join_next().await.is_some() {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_connections_leave_no_fds_or_memory_behind() {
    let (_dir, srv) = spawn_temp(&[("AUTH_TIMEOUT", "5")]).await;
    let pid = srv.child.id();
    let u = register(srv.api, "survivor").await;
    // Warm up, so that lazily made buffers and threads are in the baseline.
    garbage(srv.im, 300, 300, 1).await;
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fd0, rss0) = (open_fds(pid), rss_kb(pid));

    let t0 = Instant::now();
    garbage(srv.im, 10_000, 250, 2).await;
    let took = t0.elapsed();

    // Open files come back to the baseline once the server has seen every close.
    let t1 = Instant::now();
    let fd1 = loop {
        let n = open_fds(pid);
        if n <= fd0 + 3 || t1.elapsed() > Duration::from_secs(30) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rss1 = rss_kb(pid);
    eprintln!(
        "10,000 garbage connections in {took:?}: fds {fd0} -> {fd1}, RSS {rss0} kB -> {rss1} kB"
    );
    assert!(fd1 <= fd0 + 3, "open files {fd0} -> {fd1}");
    assert!(rss1 < rss0 + 20 * 1024, "RSS {rss0} kB -> {rss1} kB");
    // A normal login afterwards.
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
    assert_eq!(http(srv.api, "GET", "/healthz", None).await.0, 200);
}
