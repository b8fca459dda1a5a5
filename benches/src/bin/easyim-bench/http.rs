//! A minimal HTTP/1.1 client for the server's JSON API: one connection per request.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;

/// POSTs a JSON body; returns the status and the raw answer, whatever the status.
pub(crate) async fn post_raw(
    api: SocketAddr,
    path: &str,
    body: &Value,
) -> Result<(StatusCode, Bytes)> {
    request(api, Some(body), path).await
}

/// GETs `path` (with its query); returns the status and the raw answer, whatever the status.
pub(crate) async fn get_raw(api: SocketAddr, path: &str) -> Result<(StatusCode, Bytes)> {
    request(api, None, path).await
}

/// One request on a fresh connection: a POST of `body`, or a GET without one.
async fn request(api: SocketAddr, body: Option<&Value>, path: &str) -> Result<(StatusCode, Bytes)> {
    let s = TcpStream::connect(api).await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await?;
    tokio::spawn(conn);
    let req = match body {
        Some(body) => hyper::Request::post(path)
            .header("content-type", "application/json")
            .header("host", api.to_string())
            .body(Full::new(Bytes::from(body.to_string())))?,
        None => hyper::Request::get(path)
            .header("host", api.to_string())
            .body(Full::new(Bytes::new()))?,
    };
    let resp = send.send_request(req).await?;
    let status = resp.status();
    let b = resp.into_body().collect().await?.to_bytes();
    Ok((status, b))
}

/// POSTs a JSON body; returns the envelope's `data`, or an error unless the status is 2xx.
pub(crate) async fn post(api: SocketAddr, path: &str, body: Value) -> Result<Value> {
    let (status, b) = post_raw(api, path, &body).await?;
    let v: Value = serde_json::from_slice(&b)
        .with_context(|| format!("{path}: {status}: {}", String::from_utf8_lossy(&b)))?;
    if !status.is_success() {
        bail!("{path}: {status}: {v}");
    }
    Ok(v["data"].clone())
}
