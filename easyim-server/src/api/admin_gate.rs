//! The gate of the server API (`/api/admin/...`): on only when `ADMIN_TOKEN` is set and only on
//! the API port, the token compared in constant time, failures rate limited per IP, and every
//! call audited in the log and counted for `/metrics`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::params::peer_ip;
use super::rate::RateLimiter;
use super::AppState;

/// Wrong or missing admin tokens one IP may present per second, in a burst of
/// [`FAILURE_BURST`]; past them every admin call from that IP is 429 (the token is not even
/// looked at) until the bucket refills.
const FAILURES_PER_SECOND: f64 = 0.2;
/// See [`FAILURES_PER_SECOND`].
const FAILURE_BURST: u32 = 5;

/// Marks a request that came in on the IM port (which also speaks HTTP): the server API is
/// not served there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImPort;

/// The server API's token and what the gate keeps.
#[derive(Debug)]
pub(crate) struct AdminGate {
    /// SHA-256 of `ADMIN_TOKEN`; `None`: the server API is off.
    digest: Option<[u8; 32]>,
    failures: RateLimiter,
    /// Calls by route and status; bounded: the routes are the router's own.
    calls: Mutex<BTreeMap<(String, u16), u64>>,
}

impl AdminGate {
    /// The gate for `token` (empty or `None`: the server API is off).
    pub(crate) fn new(token: Option<&str>) -> Self {
        AdminGate {
            digest: token.filter(|t| !t.is_empty()).map(digest),
            failures: RateLimiter::with_burst(FAILURES_PER_SECOND, FAILURE_BURST),
            calls: Mutex::default(),
        }
    }

    /// Whether `headers` carry `Authorization: Bearer <ADMIN_TOKEN>`. Both sides are hashed
    /// first, so the comparison takes the same time whatever the length or content of a guess.
    fn authorized(&self, expected: &[u8; 32], headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or("");
        let d = digest(given);
        d.iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
            && !given.is_empty()
    }

    fn count(&self, route: &str, status: StatusCode) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls
            .entry((route.to_owned(), status.as_u16()))
            .or_default() += 1;
    }

    /// `easyim_admin_requests_total{route, status}`, in the Prometheus text format.
    pub(crate) fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let name = "easyim_admin_requests_total";
        let _ = writeln!(out, "# HELP {name} Server API calls by route and status.");
        let _ = writeln!(out, "# TYPE {name} counter");
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        for ((route, status), n) in calls.iter() {
            let _ = writeln!(out, "{name}{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Around every `/api/admin/...` route.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let gate = &state.admin;
    // The gate runs on matched routes only, none of which has a parameter in its path: the
    // path is the route, and the counters stay as many as the routes.
    let route = req.uri().path().to_owned();
    let peer = peer_ip(req.extensions());
    let (res, why) = match gate.digest {
        // Off, or the IM port: as if the route did not exist (and uncounted, unaudited).
        None => return ApiError::NotFound("not found".into()).into_response(),
        Some(_) if req.extensions().get::<ImPort>().is_some() => {
            return ApiError::NotFound("not found".into()).into_response()
        }
        Some(_) if gate.failures.exhausted(peer) => (
            ApiError::RateLimited.into_response(),
            "too many bad admin tokens",
        ),
        Some(ref expected) if !gate.authorized(expected, req.headers()) => {
            gate.failures.allow(peer);
            (
                ApiError::Unauthorized("missing or wrong admin token").into_response(),
                "bad admin token",
            )
        }
        Some(_) => (next.run(req).await, "ok"),
    };
    let status = res.status();
    gate.count(&route, status);
    audit(&route, peer, status, why);
    res
}

/// One line per server API call, under the `easyim::audit` target.
fn audit(route: &str, peer: Option<IpAddr>, status: StatusCode, why: &str) {
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    if status.is_success() {
        tracing::info!(target: "easyim::audit", route, peer, status = status.as_u16(), "server API call");
    } else {
        tracing::warn!(target: "easyim::audit", route, peer, status = status.as_u16(), why, "server API call refused or failed");
    }
}
