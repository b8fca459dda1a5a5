//! Operations: health, metrics, the loopback stop, the web console, and the 404 fallback.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::peer_ip;
use super::view::{Empty, Health};
use super::{ok, ApiResult, AppState};

/// GET `/healthz`: `{"status": "ok"}`, or 503 while storage does not answer.
pub(crate) async fn healthz(State(state): State<AppState>) -> ApiResult {
    match state.im.accounts().ping().await {
        Ok(()) => ok(Health { status: "ok" }),
        Err(e) => {
            tracing::warn!(error = %e, "health check: storage does not answer");
            Err(ApiError::Unavailable)
        }
    }
}

/// GET `/metrics`: the engine's counters and ours, in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    state.im.engine().render_metrics(&mut out);
    state.http.render(&mut out);
    state.admin.render(&mut out);
    if let Some(w) = &state.webhooks {
        w.render(&mut out, easyim_core::now_ms() as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// The header that carries the local stop key.
pub(crate) const STOP_KEY_HEADER: &str = "x-easyim-stop-key";

/// POST `/api/local/stop`: starts a graceful stop, from a loopback address and with the key
/// the server wrote to its `LOCAL_STOP_FILE` (readable by its owner only). Loopback alone is
/// not enough: any web page open in a local browser can POST to loopback.
pub(crate) async fn stop(
    State(state): State<AppState>,
    ext: Extensions,
    headers: HeaderMap,
) -> ApiResult {
    if !peer_ip(&ext).is_some_and(is_loopback) {
        return Err(ApiError::Forbidden("only allowed from a loopback address"));
    }
    let given = headers
        .get(STOP_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let matches = state
        .stop_key
        .as_deref()
        .is_some_and(|key| constant_time_eq(key.as_bytes(), given));
    if !matches {
        return Err(ApiError::Forbidden(
            "the stop key (LOCAL_STOP_FILE) is missing or wrong",
        ));
    }
    tracing::info!("stop requested over the HTTP API");
    state.stop.cancel();
    ok(Empty {})
}

/// Equality that takes as long for every mismatch of the same length, so timing tells nothing
/// of how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loopback, including an IPv4 loopback address mapped into IPv6 (a dual-stack listener).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Anything no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

pub(crate) async fn index() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../assets/index.html"),
    )
}

pub(crate) async fn console_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console.js"),
    )
}

pub(crate) async fn console_css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "192.168.1.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }
}
