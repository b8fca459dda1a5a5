//! The start of every connection, on either port: its first byte, and TLS when that byte opens
//! a handshake (protocol.md section 2).
//!
//! A plain socket's first byte is peeked, so the socket goes on unread. A TLS stream cannot be
//! peeked: its first byte is read and then replayed by [`Prefixed`], so that whatever serves the
//! connection sees the whole stream either way.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::debug;

use crate::tls::Tls;

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// The answer to plain HTTP when `TLS_REQUIRED` is set: the API's envelope, written before any
/// HTTP is parsed.
const TLS_REQUIRED_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: application/json\r\n\
    Access-Control-Allow-Origin: *\r\n\
    Content-Length: 70\r\n\
    Connection: close\r\n\r\n\
    {\"code\":400,\"msg\":\"TLS is required: use https:// or wss://\",\"data\":{}}";

/// Any byte stream a connection may be served over: a socket, or TLS over one.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for S {}

/// A connection whose first byte is known: plain, or TLS with the first byte inside it.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A plain socket, its first byte still unread.
    Plain(TcpStream, u8),
    /// A TLS session, its first byte read and replayed (boxed: its state is large).
    Tls(Box<Prefixed<TlsStream<TcpStream>>>, u8),
}

/// What `open` needs of the server's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy<'a> {
    /// The certificate, when TLS is on.
    pub(crate) tls: Option<&'a Tls>,
    /// `TLS_REQUIRED`: plain connections are refused.
    pub(crate) required: bool,
    /// `AUTH_TIMEOUT`: the first byte, and the whole TLS handshake, must come within it.
    pub(crate) timeout: Duration,
    /// `WRITE_TIMEOUT`: the longest the refusal may take to write.
    pub(crate) write_timeout: Duration,
}

/// Reads the connection's first byte, and makes the TLS handshake if that byte starts one,
/// all within `AUTH_TIMEOUT`. `None`: the peer closed, stayed silent, failed its handshake,
/// or spoke plain where TLS is required (an HTTP request is told so with a short 400).
pub(crate) async fn open(stream: TcpStream, policy: Policy<'_>) -> Option<Opened> {
    let deadline = tokio::time::Instant::now() + policy.timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return None, // closed, failed, or silent past AUTH_TIMEOUT
    }
    match (first[0], policy.tls) {
        (TLS_HANDSHAKE, Some(tls)) => {
            let opened = tokio::time::timeout_at(deadline, async {
                let mut tls = tls.acceptor().accept(stream).await?;
                let n = tls.read(&mut first).await?;
                Ok::<_, io::Error>((n, tls))
            })
            .await;
            match opened {
                Ok(Ok((1, tls))) => Some(Opened::Tls(
                    Box::new(Prefixed::new(tls, first[0])),
                    first[0],
                )),
                Ok(Ok(_)) => None,
                Ok(Err(e)) => {
                    debug!(error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    debug!("TLS handshake not finished within AUTH_TIMEOUT");
                    None
                }
            }
        }
        (byte, _) if policy.required => {
            if byte.is_ascii_uppercase() {
                refuse_http(stream, policy.write_timeout).await;
            }
            None
        }
        (byte, _) => Some(Opened::Plain(stream, byte)),
    }
}

/// Answers a plain HTTP request with 400 (TLS is required), then reads what the client sent
/// for a moment, so that closing does not reset the connection before the client has read the
/// answer.
async fn refuse_http(mut stream: TcpStream, write_timeout: Duration) {
    let written = tokio::time::timeout(write_timeout, async {
        stream.write_all(TLS_REQUIRED_ANSWER).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        // At most 64 KiB: the request head and a small body.
        for _ in 0..16 {
            if matches!(stream.read(&mut sink).await, Ok(0) | Err(_)) {
                break;
            }
        }
    })
    .await;
}

/// A stream whose first byte was already read: it is handed out again before the rest.
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    first: Option<u8>,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `first` read from it already.
    pub(crate) fn new(inner: S, first: u8) -> Self {
        Prefixed {
            first: Some(first),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() > 0 {
            if let Some(b) = self.first.take() {
                buf.put_slice(&[b]);
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_byte_comes_again_then_the_rest() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"ello").await.unwrap();
        drop(a);
        let mut p = Prefixed::new(b, b'h');
        let mut out = String::new();
        p.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello");
    }

    #[test]
    fn the_refusal_is_an_envelope_of_its_length() {
        let text = std::str::from_utf8(TLS_REQUIRED_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], 400);
        assert_eq!(v["data"], serde_json::json!({}));
    }
}
