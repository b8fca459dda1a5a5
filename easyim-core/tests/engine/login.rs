//! Login.

use super::*;

#[tokio::test(start_paused = true)]
async fn any_event_with_a_valid_token_logs_in_whatever_its_to_user_id() {
    // The original looked only at msg_type and the token; its clients rely on it.
    let h = Harness::new();
    let a = h.user().await;
    let mut live = Vec::new();
    for to in ["TYPING", "", "12345"] {
        let mut c = h.connect();
        c.user = a;
        let mut login = login_frame(a, &h.token(a).await);
        login.to_user_id = to.into();
        c.send(login);
        let m = c.recv().await;
        assert_success(&m, a);
        assert_eq!((m.id.as_str(), m.seq), ("login-1", 1));
        live.push(c);
    }
    assert_eq!(h.engine.online(a), 3);
}

#[tokio::test(start_paused = true)]
async fn login_answers_success_with_the_frames_id_and_seq() {
    let h = Harness::new();
    let a = h.user().await;
    let mut c = h.connect();
    c.user = a;
    let mut login = login_frame(a, &h.token(a).await);
    login.id = "hello-42".into();
    login.seq = 42;
    c.send(login);
    let m = c.recv().await;
    assert_success(&m, a);
    assert_eq!((m.id.as_str(), m.seq), ("hello-42", 42));
    assert!(m.access_token.is_empty());
    c.expect_nothing().await;
    assert_eq!(h.engine.online(a), 1);
}

#[tokio::test(start_paused = true)]
async fn a_first_frame_that_is_not_an_event_is_e_first_msg_and_closes() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let token = h.token(a).await;

    // A chat message first.
    let mut c = h.connect();
    let mut m = chat(a, b, ChatType::Single, "m1", 3, "hi");
    m.access_token = token.clone();
    c.send(m);
    c.expect_error("E_FIRST_MSG", "m1", 3).await;
    c.expect_closed().await;

    // KEEP_ALIVE as to_user_id, but not an event.
    let mut c = h.connect();
    let mut m = login_frame(a, &token);
    m.msg_type = MsgType::Text as i32;
    c.send(m);
    c.expect_error("E_FIRST_MSG", "login-1", 1).await;
    c.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}

/// Sends `login` on a new connection and expects `E_AUTH` then the end.
pub(super) async fn expect_login_refused(h: &Harness, login: Msg) {
    let mut c = h.connect();
    c.send(login);
    c.expect_error("E_AUTH", "login-1", 1).await;
    c.expect_closed().await;
}

/// A JWT with the claims easyim uses, signed with `key`.
fn jwt(key: &[u8], user: &str, grant: &str, exp: u64) -> String {
    let claims = serde_json::json!({ "id": user, "grant_type": grant, "exp": exp, "iat": 0 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn bad_tokens_are_e_auth_and_close() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let far = easyim_core::now_ms() / 1000 + 3600;

    // Garbage, empty.
    expect_login_refused(&h, login_frame(a, "aa.bbb.cc")).await;
    expect_login_refused(&h, login_frame(a, "")).await;
    // Well formed, signed with a key that is not the server's.
    let forged = jwt(b"not the key", &a.to_string(), "access_token", far);
    expect_login_refused(&h, login_frame(a, &forged)).await;
    // Signed with the server secret alone (not joined to the user's secret).
    let forged = jwt(
        SERVER_SECRET.as_bytes(),
        &a.to_string(),
        "access_token",
        far,
    );
    expect_login_refused(&h, login_frame(a, &forged)).await;
    // A refresh token.
    let refresh = h
        .engine
        .auth()
        .issue(a, Grant::Refresh)
        .await
        .unwrap()
        .token;
    expect_login_refused(&h, login_frame(a, &refresh)).await;
    // Another user's valid token.
    let token_b = h.token(b).await;
    expect_login_refused(&h, login_frame(a, &token_b)).await;
    // A token for a user that does not exist.
    let ghost = jwt(b"x", "12345", "access_token", far);
    expect_login_refused(&h, login_frame(12345, &ghost)).await;

    assert_eq!(h.engine.online(a), 0);
    // The user's own token still works.
    h.login(a).await;
}

#[tokio::test]
async fn an_expired_token_is_e_auth_and_closes() {
    let h = Harness::new();
    let a = h.user().await;
    // A second authority on the same keys whose access tokens live 0 seconds.
    let storage: Arc<dyn Storage> = h.storage.clone();
    let short = JwtAuth::new(storage, SERVER_SECRET, 0, 0);
    let token = easyim_core::Auth::issue(&short, a, Grant::Access)
        .await
        .unwrap()
        .token;
    // `exp` has a one-second resolution and no leeway: it is past after at most a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_login_refused(&h, login_frame(a, &token)).await;
}

#[tokio::test(start_paused = true)]
async fn no_login_frame_within_auth_timeout_closes_silently() {
    let h = Harness::with_config(EngineConfig {
        auth_timeout: Duration::from_secs(10),
        // Before login only AUTH_TIMEOUT applies.
        idle_timeout: Duration::from_secs(3),
        ..EngineConfig::default()
    });
    let mut c = h.connect();
    let t0 = tokio::time::Instant::now();
    assert!(
        c.try_recv_within(Duration::from_millis(9900))
            .await
            .is_none(),
        "closed or answered before AUTH_TIMEOUT"
    );
    assert_eq!(c.try_recv_within(Duration::from_secs(1)).await, Some(None));
    assert!(t0.elapsed() >= Duration::from_secs(10));
    c.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn end_of_stream_before_login_closes() {
    let h = Harness::new();
    let mut c = h.connect();
    c.close();
    c.expect_closed().await;
}
