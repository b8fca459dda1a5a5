//! Storage failures.

use super::*;

/// A `MemoryStorage` that fails every call on demand, with an error text that must never reach
/// a client.
type Flaky = FailingStorage<MemoryStorage>;

#[tokio::test]
async fn storage_failures_are_500_and_503_without_details() {
    let flaky = Arc::new(Flaky::with_reason(
        MemoryStorage::new(),
        "disk on fire at /var/secret/path",
    ));
    let srv = Api::start_with(ApiOpts {
        storage: Some(flaky.clone()),
        ..ApiOpts::default()
    })
    .await;
    let a = srv.register("alice").await;
    flaky.fail_all(true);

    let h = srv.get("/healthz").await;
    h.envelope(503);
    for r in [
        srv.post(
            "/api/user/login",
            json!({"account": "alice", "password": "pw-123456"}),
        )
        .await,
        srv.post(
            "/api/user/register",
            json!({"account": "bob", "password": "pw"}),
        )
        .await,
        srv.get(&format!("/api/user/friends?access_token={}", tok(&a)))
            .await,
    ] {
        let v = r.envelope(500);
        let msg = v["msg"].as_str().unwrap();
        assert!(!msg.contains("disk") && !msg.contains("/var"), "{msg}");
    }

    flaky.fail_all(false);
    srv.get("/healthz").await.data();
    srv.get(&format!("/api/user/friends?access_token={}", tok(&a)))
        .await
        .data();
}
