//! Accounts and tokens.

use super::*;

#[tokio::test]
async fn register_login_and_duplicates() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    for key in [
        "id",
        "nickname",
        "avatar",
        "access_token",
        "expires_in",
        "refresh_token",
    ] {
        assert!(d.get(key).is_some(), "{key} in {d}");
    }
    assert!(d["id"]
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_digit()));
    assert_eq!(
        d["nickname"], "alice",
        "the nickname defaults to the account"
    );
    assert_eq!(d["avatar"], "");
    assert_eq!(d["expires_in"], 7200);

    let dup = srv
        .post(
            "/api/user/register",
            json!({"account": "alice", "password": "x"}),
        )
        .await;
    dup.envelope(409);
    for bad in [
        json!({"account": "", "password": "x"}),
        json!({"account": "bob"}),
        json!({"password": "x"}),
        json!({"account": "a".repeat(65), "password": "x"}),
        json!({"account": "bob", "password": "p".repeat(257)}),
        json!({"account": ["bob"], "password": "x"}),
    ] {
        srv.post("/api/user/register", bad).await.envelope(400);
    }

    // A form body (the original's clients) with a nickname.
    let r = srv
        .req(
            "POST",
            "/api/user/register",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"account=carol&password=p%26w&nickname=Carol+C",
        )
        .await
        .data();
    assert_eq!(r["nickname"], "Carol C");

    let ok = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await
        .data();
    assert_eq!(ok["id"], d["id"]);
    assert!(ok["refresh_token"].is_string());
    // The query string works too, and the form password was decoded.
    srv.req(
        "POST",
        "/api/user/login?account=carol&password=p%26w",
        &[],
        b"",
    )
    .await
    .data();

    let wrong = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "nope"}),
        )
        .await
        .envelope(401);
    let unknown = srv
        .post(
            "/api/user/login",
            json!({"account": "nobody", "password": "nope"}),
        )
        .await
        .envelope(401);
    assert_eq!(wrong["msg"], unknown["msg"], "one message for both");
    srv.post("/api/user/login", json!({"account": "alice"}))
        .await
        .envelope(400);
}

#[tokio::test]
async fn check_and_refresh_tokens() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let (access, refresh) = (tok(&d), d["refresh_token"].as_str().unwrap().to_owned());

    let c = srv
        .get(&format!("/api/user/check_token?token={access}"))
        .await
        .data();
    assert_eq!(c["grant_type"], "access_token");
    let left = c["expires_in"].as_u64().unwrap();
    assert!(left > 7000 && left <= 7200, "{left}");
    let c = srv
        .get(&format!("/api/user/check_token?token={refresh}"))
        .await
        .data();
    assert_eq!(c["grant_type"], "refresh_token");
    srv.get("/api/user/check_token?token=forged.token.here")
        .await
        .envelope(401);
    srv.get("/api/user/check_token").await.envelope(401);

    let path = "/api/user/refresh_token";
    let r = srv
        .post(
            path,
            json!({"refresh_token": refresh, "grant_type": "access_token"}),
        )
        .await
        .data();
    assert_eq!(r["grant_type"], "access_token");
    assert_eq!(r["expires_in"], 7200);
    let new_access = r["token"].as_str().unwrap().to_owned();
    // Rotation: the refresh token sent is spent; the answer carries the next one.
    let next = r["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);
    srv.get(&format!("/api/user/friends?access_token={new_access}"))
        .await
        .data();
    let r = srv
        .post(
            path,
            json!({"refresh_token": next, "grant_type": "refresh_token"}),
        )
        .await
        .data();
    assert_eq!(r["grant_type"], "refresh_token");
    assert_eq!(r["expires_in"], 2_592_000);
    assert_eq!(
        r["token"], r["refresh_token"],
        "the token asked for is the next refresh token"
    );
    let next = r["refresh_token"].as_str().unwrap().to_owned();

    // An access token does not buy tokens; a bad grant_type is a 400 (after the token check),
    // and a refused call spends nothing.
    srv.post(
        path,
        json!({"refresh_token": access, "grant_type": "access_token"}),
    )
    .await
    .envelope(401);
    srv.post(path, json!({"grant_type": "access_token"}))
        .await
        .envelope(401);
    srv.post(path, json!({"refresh_token": next}))
        .await
        .envelope(400);
    srv.post(
        path,
        json!({"refresh_token": next, "grant_type": "password"}),
    )
    .await
    .envelope(400);
    srv.post(
        path,
        json!({"refresh_token": next, "grant_type": "access_token", "reset_secret": "maybe"}),
    )
    .await
    .envelope(400);

    // reset_secret: every older token dies, the new ones work.
    let r = srv
        .post(
            path,
            json!({"refresh_token": next, "grant_type": "access_token", "reset_secret": "1"}),
        )
        .await
        .data();
    let fresh = r["token"].as_str().unwrap().to_owned();
    let fresh_refresh = r["refresh_token"].as_str().unwrap().to_owned();
    for old in [&access, &new_access] {
        srv.get(&format!("/api/user/friends?access_token={old}"))
            .await
            .envelope(401);
    }
    srv.get(&format!("/api/user/friends?access_token={fresh}"))
        .await
        .data();
    srv.post(
        path,
        json!({"refresh_token": fresh_refresh, "grant_type": "access_token"}),
    )
    .await
    .data();
}

/// A refresh token is good once: presented again (a stolen copy, or the victim's after the
/// thief used it), it is refused and every token of the user is revoked, so the thief's new
/// tokens die too.
#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_users_tokens() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let (access, stolen) = (tok(&d), d["refresh_token"].as_str().unwrap().to_owned());
    let path = "/api/user/refresh_token";
    let body = |t: &str| json!({"refresh_token": t, "grant_type": "access_token"});
    let thief = srv.post(path, body(&stolen)).await.data();
    let thief_access = thief["token"].as_str().unwrap().to_owned();
    let thief_refresh = thief["refresh_token"].as_str().unwrap().to_owned();
    srv.get(&format!("/api/user/friends?access_token={thief_access}"))
        .await
        .data();

    // The owner presents the same (spent) refresh token.
    srv.post(path, body(&stolen)).await.envelope(401);
    for t in [&access, &thief_access] {
        srv.get(&format!("/api/user/friends?access_token={t}"))
            .await
            .envelope(401);
    }
    srv.post(path, body(&thief_refresh)).await.envelope(401);
    // Signing in again works.
    let again = srv
        .post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await
        .data();
    srv.get(&format!("/api/user/friends?access_token={}", tok(&again)))
        .await
        .data();
}

#[tokio::test]
async fn token_sources_and_401s() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let access = tok(&d);
    let refresh = d["refresh_token"].as_str().unwrap();

    srv.get("/api/user/friends").await.envelope(401);
    srv.get("/api/user/friends?access_token=a.b.c")
        .await
        .envelope(401);
    srv.get(&format!("/api/user/friends?access_token={refresh}"))
        .await
        .envelope(401);
    // A token signed with another secret.
    let forged = {
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        parts.join(".")
    };
    srv.get(&format!("/api/user/friends?access_token={forged}"))
        .await
        .envelope(401);

    let bearer = format!("Bearer {access}");
    for (name, value) in [
        ("Authorization", bearer.as_str()),
        ("Token", access.as_str()),
        ("Auth-Token", access.as_str()),
    ] {
        let r = srv
            .req("GET", "/api/user/friends", &[(name, value)], b"")
            .await;
        assert_eq!(r.data()["total"], 0, "{name}");
    }
    // In a JSON body.
    let r = srv
        .req(
            "GET",
            "/api/user/friends",
            &[("Content-Type", "application/json")],
            json!({"access_token": access}).to_string().as_bytes(),
        )
        .await;
    r.data();

    // 401 wins over 400: no token and no arguments, or no token and a malformed body.
    srv.post("/api/user/friend/add", json!({}))
        .await
        .envelope(401);
    srv.req(
        "POST",
        "/api/user/friend/add",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .await
    .envelope(401);
    // With a token, the malformed body is a 400.
    srv.req(
        "POST",
        "/api/user/friend/add",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        b"{not json",
    )
    .await
    .envelope(400);
    srv.req(
        "POST",
        "/api/user/login",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .await
    .envelope(400);
    srv.req(
        "POST",
        "/api/user/login",
        &[("Content-Type", "application/json")],
        b"[1, 2]",
    )
    .await
    .envelope(400);

    // Logout revokes.
    srv.post("/api/user/logout", json!({})).await.envelope(401);
    srv.post("/api/user/logout", json!({"access_token": access}))
        .await
        .data();
    srv.get(&format!("/api/user/friends?access_token={access}"))
        .await
        .envelope(401);
    srv.post(
        "/api/user/refresh_token",
        json!({"refresh_token": refresh, "grant_type": "access_token"}),
    )
    .await
    .envelope(401);
}

#[tokio::test]
async fn logout_closes_im_connections() {
    let srv = Api::start().await;
    let d = srv.register("alice").await;
    let mut outbox = online(&srv.engine, &d).await;
    srv.post("/api/user/logout", json!({"access_token": tok(&d)}))
        .await
        .data();
    let mut revoked = false;
    while let Ok(Some(f)) = tokio::time::timeout(Duration::from_secs(5), outbox.recv()).await {
        revoked |= f.msg().content.starts_with("E_AUTH_REVOKED");
    }
    assert!(revoked, "the connection got E_AUTH_REVOKED and closed");
}

#[tokio::test]
async fn search_users() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    srv.register("alfred").await;
    srv.register("bob").await;
    let path = format!("/api/user/search?access_token={}&account=al", tok(&a));
    let items = srv.get(&path).await.data()["items"].clone();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["account"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"alice") && names.contains(&"alfred"));
    let first = &items[0];
    for key in ["id", "account", "nickname", "avatar"] {
        assert!(first.get(key).is_some());
    }
    assert!(first["id"].is_string());
    srv.get(&format!("/api/user/search?access_token={}", tok(&a)))
        .await
        .envelope(400);
    srv.get("/api/user/search?account=al").await.envelope(401);
}
