//! Tokens.

use super::*;

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
