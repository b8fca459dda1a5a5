//! Reading `/metrics` in the tests.

use std::net::SocketAddr;

use super::try_request;

/// The text of `GET /metrics` on the API port `api`.
pub async fn metrics(api: SocketAddr) -> String {
    let r = try_request(api, "GET", "/metrics", &[], b"").await.unwrap();
    String::from_utf8(r.body).unwrap()
}

/// The value of the metric `name` (without labels) in `text`; panics if it is not there.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}
