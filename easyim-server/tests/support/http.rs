//! The one HTTP/1.1 client of the tests: a request either goes over a socket
//! ([`request`], [`http`]) or straight into a router with `tower::ServiceExt::oneshot`
//! ([`oneshot`]), and either way comes back as a [`Resp`].

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::WAIT;

/// An answer: the status, the headers in order, and the body (de-chunked).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header called `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or `Value::Null` if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Checks the status, the CORS header and the envelope, and returns the envelope.
    pub fn envelope(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert_eq!(self.header("access-control-allow-origin"), Some("*"));
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "content type of {self:?}"
        );
        let v: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.len(), 3, "envelope {v}");
        assert_eq!(v["code"], status, "envelope {v}");
        assert!(v["msg"].is_string(), "envelope {v}");
        assert!(v["data"].is_object(), "envelope {v}");
        if status >= 400 {
            assert_eq!(v["data"], json!({}), "error envelope {v}");
        }
        v
    }

    /// The `data` of a 200 envelope.
    pub fn data(&self) -> Value {
        self.envelope(200)["data"].clone()
    }
}

/// One request with `Connection: close` and exactly `headers` (plus Host and Content-Length)
/// over a new connection to `addr`; panics if there is no whole answer within [`WAIT`].
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    tokio::time::timeout(WAIT, try_request(addr, method, path, headers, body))
        .await
        .expect("an HTTP answer in time")
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// Like [`request`], with no time limit, and an error where the connection fails.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let req = request_bytes(method, path, headers, body);
    let s = TcpStream::connect(addr).await?;
    request_over(s, &req).await
}

/// Writes the request `req` on `s` and reads the whole answer.
pub async fn request_over<S>(mut s: S, req: &[u8]) -> std::io::Result<Resp>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(req).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    parse(&buf).ok_or_else(|| {
        let text = String::from_utf8_lossy(&buf);
        std::io::Error::other(format!("not an HTTP answer: {text:?}"))
    })
}

/// A request with `Connection: close` and exactly `headers` (plus Host and Content-Length).
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut req = req.into_bytes();
    req.extend_from_slice(body);
    req
}

/// A JSON request over a socket (`Content-Type: application/json`, whether there is a body or
/// not); returns the status and the JSON body (`Value::Null` if the body is not JSON).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let r = request(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    (r.status, r.json())
}

/// One request straight into `router`, no socket: as if it came from `peer` (the
/// `ConnectInfo` the listener would insert), with exactly `headers` plus Content-Length.
pub async fn oneshot(
    router: &Router,
    peer: IpAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = axum::http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req
        .header("content-length", body.len())
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 40000)));
    let res = tokio::time::timeout(WAIT, router.clone().oneshot(req))
        .await
        .expect("an answer in time")
        .expect("a router never fails");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// Parses a whole HTTP/1.1 answer, de-chunking its body; `None` if it is not one.
fn parse(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(nl + 2..nl + 2 + size)?);
        rest = rest.get(nl + 4 + size..)?;
    }
}
