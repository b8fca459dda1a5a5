//! The HTTP API of http-api.md, as an axum [`Router`].
//!
//! - `params`: a call's arguments (query string, JSON or form body) and its token.
//! - `error`: [`ApiError`](error::ApiError), which every failure turns into, and the envelope.
//! - `user`, `friend`, `block`, `group`, `group_admin`, `history`: the handlers, one module per subject. Each parses
//!   its arguments, calls the core's service with the caller, and renders the typed result.
//! - `view`: the typed bodies of the answers.
//! - `routes`: the route table, from which both the router and the OpenAPI document
//!   (`openapi`: `/api/openapi.json`, `/api/docs`) are built.
//! - `ops`: `/healthz`, `/metrics`, `/api/local/stop` and the web console's files.
//! - `rate`: the per-IP token buckets of register, login and group join, and of bad admin
//!   tokens.
//! - `admin`, `admin_view`: the server API (`/api/admin/...`); `admin_gate`: its token check,
//!   rate limit, audit and counters. `device`: push devices.
//!
//! Every response leaves through [`shell`], which answers CORS preflights, adds the CORS header,
//! counts responses by status class, and wraps any error the router made by itself (404, 405,
//! 413...) in the envelope, so a client never sees an empty or HTML error body.

mod admin;
mod admin_gate;
mod admin_view;
mod block;
mod conversation;
mod device;
mod error;
mod friend;
mod group;
mod group_admin;
mod history;
mod openapi;
mod ops;
mod params;
mod presence;
mod rate;
mod routes;
mod user;
mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use easyim_core::Im;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use self::admin_gate::AdminGate;
pub(crate) use self::admin_gate::ImPort;
use self::error::ApiError;

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiConfig {
    /// `MAX_BODY_BYTES`: the largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// `API_RATE_LIMIT`: requests per second per client IP on register, login and group join
    /// (burst the same), so that password guessing, account spam and group-id guessing stay
    /// slow; 0 is no limit.
    pub rate_limit: u32,
    /// The key `POST /api/local/stop` must carry (header `X-Easyim-Stop-Key`); the server
    /// writes it, owner-only, to `LOCAL_STOP_FILE` for `--stop`. None: nobody may stop the
    /// server over HTTP.
    pub stop_key: Option<String>,
    /// The longest a request may take, body included (`WRITE_TIMEOUT`): past it, 408, and a
    /// body that trickles in cannot hold the connection.
    pub request_timeout: std::time::Duration,
    /// `API_ALWAYS_200`: every `/api/...` answer has HTTP status 200 and the envelope's `code`
    /// says what happened, as the original answered (for clients whose HTTP library throws on
    /// 4xx).
    pub always_200: bool,
    /// `ADMIN_TOKEN`: the bearer token of the server API (`/api/admin/...`); `None` or empty:
    /// the server API is off (its routes answer 404).
    pub admin_token: Option<String>,
    /// The webhook dispatcher's counters, shown by `/metrics` when webhooks are on.
    pub webhooks: Option<Arc<crate::webhook::WebhookCounters>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1 << 20,
            rate_limit: 0,
            stop_key: None,
            request_timeout: std::time::Duration::from_secs(30),
            always_200: false,
            admin_token: None,
            webhooks: None,
        }
    }
}

impl ApiConfig {
    /// The same settings with `MAX_BODY_BYTES` = `bytes`.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The same settings with the key that `POST /api/local/stop` must carry.
    pub fn with_stop_key(mut self, key: impl Into<String>) -> Self {
        self.stop_key = Some(key.into());
        self
    }

    /// The same settings with `API_ALWAYS_200` = `on`.
    pub fn with_always_200(mut self, on: bool) -> Self {
        self.always_200 = on;
        self
    }

    /// The same settings with `ADMIN_TOKEN` = `token` (empty: the server API is off).
    pub fn with_admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// The same settings with `API_RATE_LIMIT` = `per_second` (0: no limit).
    pub fn with_rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = per_second;
        self
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    im: Im,
    request_timeout: std::time::Duration,
    stop: CancellationToken,
    /// What `POST /api/local/stop` must carry (see [`ApiConfig::stop_key`]).
    stop_key: Option<Arc<str>>,
    limiter: Arc<rate::RateLimiter>,
    http: Arc<HttpCounters>,
    /// See [`ApiConfig::always_200`].
    always_200: bool,
    /// The server API's token check, rate limit and counters.
    admin: Arc<AdminGate>,
    /// See [`ApiConfig::webhooks`].
    webhooks: Option<Arc<crate::webhook::WebhookCounters>>,
}

/// Responses by status class (1xx to 5xx), for `/metrics`.
#[derive(Debug, Default)]
struct HttpCounters([AtomicU64; 5]);

impl HttpCounters {
    fn count(&self, status: StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.0[class].fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let name = "easyim_http_requests_total";
        let _ = writeln!(out, "# HELP {name} HTTP API responses by status class.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (i, n) in self.0.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}{{class=\"{}xx\"}} {}",
                i + 1,
                n.load(Ordering::Relaxed)
            );
        }
    }
}

/// Builds the HTTP API router. `stop` is cancelled by POST /api/local/stop (from loopback only).
pub fn router(im: Im, config: ApiConfig, stop: CancellationToken) -> Router {
    let state = AppState {
        request_timeout: config.request_timeout,
        im,
        stop,
        stop_key: config.stop_key.map(Arc::from),
        limiter: Arc::new(rate::RateLimiter::new(config.rate_limit)),
        http: Arc::default(),
        always_200: config.always_200,
        admin: Arc::new(AdminGate::new(config.admin_token.as_deref())),
        webhooks: config.webhooks.clone(),
    };
    let admin = routes::add_admin_routes(Router::new()).route_layer(
        middleware::from_fn_with_state(state.clone(), admin_gate::gate),
    );
    routes::add_routes(Router::new())
        .merge(admin)
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), shell))
        .with_state(state)
}

/// Every route the router serves, as (method, path): what the OpenAPI document lists.
pub fn api_routes() -> impl Iterator<Item = (&'static str, &'static str)> {
    routes::ROUTES
        .iter()
        .chain(routes::ADMIN_ROUTES)
        .map(|r| (r.method, r.path))
}

/// A handler's result: the envelope, or the error's envelope.
type ApiResult = Result<Response, ApiError>;

/// The envelope `{code, msg, data}` with `code` equal to the status.
#[derive(Debug, Serialize)]
struct Envelope<'a, T> {
    code: u16,
    msg: &'a str,
    data: T,
}

/// The envelope around `data`, with `code` equal to `status`.
pub(crate) fn envelope(status: StatusCode, msg: &str, data: impl Serialize) -> Response {
    let body = Envelope {
        code: status.as_u16(),
        msg,
        data,
    };
    (status, Json(body)).into_response()
}

/// A 200 envelope around `data`.
fn ok(data: impl Serialize) -> ApiResult {
    Ok(envelope(StatusCode::OK, "success", data))
}

/// The headers a browser may send, as the original's CORS list has them.
const ALLOW_HEADERS: &str = "Token, Auth-Token, Authorization, Content-Type, X-Requested-With";

/// Around every request: CORS, the envelope for errors the router made itself, counters, and
/// status 200 for every `/api/...` answer under `API_ALWAYS_200`.
async fn shell(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = if req.method() == Method::OPTIONS {
        // A preflight on any path, known or not, is answered here: routing it would 405.
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        state.http.count(res.status());
        res
    } else {
        let method = req.method().clone();
        // The path only: the query may hold a token, which must never reach the log.
        let path = req.uri().path().to_owned();
        let in_api = path.starts_with("/api/");
        let mut res = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
            Ok(res) => into_envelope(res),
            Err(_) => {
                tracing::debug!(%method, path, "HTTP request past its deadline");
                ApiError::Status(StatusCode::REQUEST_TIMEOUT, "request timed out").into_response()
            }
        };
        if res.status().is_server_error() {
            tracing::warn!(%method, path, status = res.status().as_u16(), "HTTP API 5xx");
        }
        state.http.count(res.status());
        if state.always_200 && in_api {
            // The envelope's `code` keeps the real status (http-api.md, API_ALWAYS_200).
            *res.status_mut() = StatusCode::OK;
        }
        res
    };

    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// Replaces the body of an error response that is not JSON (axum's own 405, a rejection's
/// plain text) with the envelope of the same status.
fn into_envelope(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return res;
    }
    let msg = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut out = envelope(status, &msg, view::Empty {});
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}
