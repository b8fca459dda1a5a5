//! Errors that close from outside.

use super::login::expect_login_refused;
use super::*;

#[tokio::test(start_paused = true)]
async fn revoke_closes_every_connection_of_the_user_with_e_auth_revoked() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let token = h.token(a).await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut cb = h.login(b).await;
    h.engine.revoke(a).await.unwrap();
    for c in [&mut a1, &mut a2] {
        c.expect_error("E_AUTH_REVOKED", "", 0).await;
        c.expect_closed().await;
    }
    assert_eq!(h.engine.online(a), 0);
    // Other users are not touched.
    cb.send(cb.heartbeat("hb", 1));
    assert_success(&cb.recv().await, b);
    // The old token no longer logs in; a new one does.
    expect_login_refused(&h, login_frame(a, &token)).await;
    h.login(a).await;
}

#[tokio::test(start_paused = true)]
async fn revoke_during_a_long_login_replay_still_says_e_auth_revoked() {
    let h = Harness::with_config(EngineConfig {
        send_queue: 4,
        ..EngineConfig::default()
    });
    let a = h.user().await;
    let b = h.user().await;
    let mut ca = h.login(a).await;
    for i in 1..=20u32 {
        ca.send_acked(ca.chat(b, ChatType::Single, &format!("p{i}"), i, "x"))
            .await;
    }
    // b's replay fills its queue of 4 and waits for b to read; b is revoked meanwhile.
    let mut cb = h.login(b).await;
    tokio::task::yield_now().await;
    h.engine.revoke(b).await.unwrap();
    let mut pending = 0;
    loop {
        let m = cb.recv().await;
        if m.msg_type == MsgType::Notify as i32 {
            assert!(m.content.starts_with("E_AUTH_REVOKED:"), "{m:?}");
            break;
        }
        pending += 1;
    }
    assert!(pending < 20, "the replay stopped at the revocation");
    cb.expect_closed().await;
}

/// A [`JwtAuth`] whose first `verify` stops after checking, until the test lets it go on:
/// a revoke can then run between a login's token check and its registration.
struct GatedAuth {
    inner: JwtAuth,
    first: std::sync::atomic::AtomicBool,
    checked: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl easyim_core::Auth for GatedAuth {
    async fn issue(
        &self,
        user: easyim_core::UserId,
        grant: Grant,
    ) -> Result<easyim_core::IssuedToken, easyim_core::AuthError> {
        self.inner.issue(user, grant).await
    }

    async fn verify(&self, token: &str) -> Result<easyim_core::Claims, easyim_core::AuthError> {
        let claims = self.inner.verify(token).await;
        if self.first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.checked.notify_one();
            self.release.notified().await;
        }
        claims
    }

    async fn revoke(&self, user: easyim_core::UserId) -> Result<(), easyim_core::AuthError> {
        self.inner.revoke(user).await
    }

    async fn rotate(
        &self,
        refresh_token: &str,
    ) -> Result<(easyim_core::Claims, easyim_core::IssuedToken), easyim_core::AuthError> {
        self.inner.rotate(refresh_token).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_revoke_between_the_token_check_and_the_registration_still_refuses_the_login() {
    let storage = Arc::new(FlakyStorage::new(easyim_core::MemoryStorage::new()));
    let dyn_storage: Arc<dyn Storage> = storage.clone();
    let auth = Arc::new(GatedAuth {
        inner: JwtAuth::new(dyn_storage.clone(), SERVER_SECRET, 3600, 86400),
        first: std::sync::atomic::AtomicBool::new(false),
        checked: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let h = Harness {
        engine: easyim_core::Engine::new(dyn_storage, auth.clone(), EngineConfig::default()),
        storage,
    };
    let a = h.user().await;
    let token = h.token(a).await;
    auth.first.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut c = h.connect();
    c.send(login_frame(a, &token));
    // The token checked out; the connection is not registered yet when the revoke runs.
    auth.checked.notified().await;
    h.engine.revoke(a).await.unwrap();
    auth.release.notify_one();
    c.expect_error("E_AUTH", "login-1", 1).await;
    c.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
    // A token issued after the revoke logs in.
    h.login(a).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_every_connection_with_e_shutdown() {
    let h = Harness::new();
    let a = h.user().await;
    let mut logged_in = h.login(a).await;
    let mut waiting = h.connect();
    // Let the second connection reach its wait for a login frame.
    tokio::task::yield_now().await;
    h.engine.shutdown();
    assert!(h.engine.is_shutting_down());
    logged_in.expect_error("E_SHUTDOWN", "", 0).await;
    logged_in.expect_closed().await;
    waiting.expect_error("E_SHUTDOWN", "", 0).await;
    waiting.expect_closed().await;
    // New connections are refused the same way, even with a valid login.
    let mut late = h.connect();
    late.send(login_frame(a, &h.token(a).await));
    late.expect_error("E_SHUTDOWN", "", 0).await;
    late.expect_closed().await;
    assert_eq!(h.engine.online(a), 0);
}
