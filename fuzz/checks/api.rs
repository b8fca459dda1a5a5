// The check of the `api` fuzz target, shared by the cargo-fuzz target in fuzz/fuzz_targets/
// and by the corpus replay in easyim-server/tests/fuzz_corpus.rs, which both `include!` this
// file. It runs the whole HTTP API router in-process on an arbitrary request and panics on a
// failure: a panic inside, a hang, a 5xx, or a response that is not the JSON envelope.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode, Uri};
use easyim_core::{
    hash_password, Auth, EngineConfig, Im, Grant, JwtAuth, MemoryStorage, Storage, User,
};
use easyim_server::{api_router, ApiConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// User A, whose tokens `$T` (access) and `$R` (refresh) stand for in an input. Its account is
/// `fuzz_a` with password `fuzz-password`.
const FUZZ_USER_A: u64 = 1001;
/// User B, with an open friend request (id 777) to A; both are in group 888 (owner A).
const FUZZ_USER_B: u64 = 1002;

/// A runtime for the router, made once per process.
fn fuzz_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The argon2 hash of A's password, computed once (it is slow on purpose).
fn fuzz_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("fuzz-password").expect("hash"))
}

/// A fresh router over fresh memory storage holding A, B, a friend request and a group, so
/// that every input starts from the same state; and A's access and refresh tokens.
async fn fuzz_app() -> (axum::Router, String, String) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    for (id, account) in [(FUZZ_USER_A, "fuzz_a"), (FUZZ_USER_B, "fuzz_b")] {
        storage
            .create_user(User {
                id,
                account: account.to_owned(),
                nickname: account.to_owned(),
                avatar: String::new(),
                password_hash: fuzz_password_hash().to_owned(),
                secret: format!("secret-{id}"),
            })
            .await
            .expect("create user");
    }
    storage
        .create_friend_request(777, FUZZ_USER_B, FUZZ_USER_A, "hi")
        .await
        .expect("friend request");
    storage
        .create_group(888, "fuzz", FUZZ_USER_A, &[FUZZ_USER_B])
        .await
        .expect("group");
    let auth = Arc::new(JwtAuth::new(
        storage.clone(),
        "fuzz-secret",
        7200,
        2_592_000,
    ));
    let access = auth.issue(FUZZ_USER_A, Grant::Access).await.expect("token");
    let refresh = auth
        .issue(FUZZ_USER_A, Grant::Refresh)
        .await
        .expect("token");
    let im = Im::new(storage, auth, EngineConfig::default());
    let app = api_router(im, ApiConfig::default(), CancellationToken::new());
    (app, access.token, refresh.token)
}

/// `data` with every `$T` replaced by `access` and every `$R` by `refresh`.
fn fuzz_tokens(data: &[u8], access: &str, refresh: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match (data[i], data.get(i + 1)) {
            (b'$', Some(b'T')) => out.extend_from_slice(access.as_bytes()),
            (b'$', Some(b'R')) => out.extend_from_slice(refresh.as_bytes()),
            (b, _) => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

/// One request to the API: byte 0 picks the method, byte 1 how the token is sent, then
/// `<path?query>\n<content-type>\n<body>` (`$T` and `$R` stand for A's tokens).
fn fuzz_api(data: &[u8]) {
    let [method, auth, rest @ ..] = data else {
        return;
    };
    let method = match method % 9 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::PUT,
        3 => Method::DELETE,
        4 => Method::PATCH,
        5 => Method::HEAD,
        6 => Method::OPTIONS,
        7 => Method::TRACE,
        _ => Method::from_bytes(b"FUZZ").expect("a method"),
    };
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let target = parts.next().unwrap_or_default();
    let content_type = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    fuzz_runtime().block_on(async {
        let (app, access, refresh) = fuzz_app().await;
        let mut target = fuzz_tokens(target, &access, &refresh);
        if target.first() != Some(&b'/') {
            target.insert(0, b'/');
        }
        // A target that is not a URI never reaches the router: hyper refuses it.
        let Ok(uri) = Uri::try_from(target) else {
            return;
        };
        let path = uri.path().to_owned();
        let mut req = Request::builder().method(method.clone()).uri(uri);
        match auth % 5 {
            1 => req = req.header(header::AUTHORIZATION, format!("Bearer {access}")),
            2 => req = req.header("token", access.as_str()),
            3 => req = req.header(header::AUTHORIZATION, "Bearer not.a.token"),
            4 => req = req.header("auth-token", refresh.as_str()),
            _ => {}
        }
        if !content_type.is_empty() {
            if let Ok(v) = header::HeaderValue::from_bytes(content_type) {
                req = req.header(header::CONTENT_TYPE, v);
            }
        }
        let body = fuzz_tokens(body, &access, &refresh);
        let req = req.body(Body::from(body)).expect("a request");
        let res = tokio::time::timeout(Duration::from_secs(10), app.oneshot(req))
            .await
            .expect("the API answered within 10 s")
            .expect("the router is infallible");
        let status = res.status();
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} for a client's input"
        );
        assert_eq!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(&b"*"[..]),
            "{method} {path}: no CORS header"
        );
        if method == Method::OPTIONS {
            assert_eq!(status, StatusCode::NO_CONTENT, "{method} {path}");
            return;
        }
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let bytes = tokio::time::timeout(
            Duration::from_secs(10),
            axum::body::to_bytes(res.into_body(), 16 << 20),
        )
        .await
        .expect("the body came within 10 s")
        .expect("a readable body");
        if method == Method::HEAD && bytes.is_empty() {
            return;
        }
        let plain_ok = ["/", "/console.js", "/console.css", "/metrics"].contains(&path.as_str());
        if status.is_success() && !is_json {
            assert!(plain_ok, "{method} {path}: {status} without a JSON body");
            return;
        }
        assert!(is_json, "{method} {path}: {status} is not JSON");
        let v: Value = serde_json::from_slice(&bytes).expect("the envelope is JSON");
        assert_eq!(
            v["code"].as_u64(),
            Some(u64::from(status.as_u16())),
            "{method} {path}: code is not the status: {v}"
        );
        assert!(v["msg"].is_string(), "{method} {path}: no msg: {v}");
        assert!(
            v["data"].is_object(),
            "{method} {path}: data is not an object: {v}"
        );
        if !status.is_success() {
            assert_eq!(v["data"], serde_json::json!({}), "{method} {path}: {v}");
        }
    });
}
