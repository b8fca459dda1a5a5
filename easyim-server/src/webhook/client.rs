//! One HTTP/1.1 POST to the receiver, on a connection kept between deliveries: plain TCP for
//! an `http://` URL, TLS (rustls) for `https://`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why a POST did not get a 2xx.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    /// No connection, a broken one, or no answer in time.
    #[error("{0}")]
    Transport(String),
    /// The receiver answered, but not 2xx.
    #[error("the receiver answered {0}")]
    Status(u16),
}

/// The receiver's address and the open connection to it, if any.
pub(crate) struct Client {
    url: Uri,
    tls: Option<TlsConnector>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client of `url`; `tls` for an `https://` one (the authorities it trusts).
    pub(crate) fn new(url: Uri, tls: Option<Arc<ClientConfig>>) -> Self {
        Client {
            url,
            tls: tls.map(TlsConnector::from),
            conn: None,
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, PostError> {
        let host = self
            .url
            .host()
            .unwrap_or("localhost")
            .trim_matches(['[', ']']);
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        let port = self.url.port_u16().unwrap_or(default_port);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| PostError::Transport(format!("cannot connect: {e}")))?;
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return handshake(stream).await;
        };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| PostError::Transport(format!("not a server name: {e}")))?;
        let stream = tls
            .connect(name, stream)
            .await
            .map_err(|e| PostError::Transport(format!("TLS: {e}")))?;
        handshake(stream).await
    }

    /// POSTs `body` with `headers`; the answer's body on a 2xx. The caller bounds the time
    /// it takes (an answer is read whole: the receivers are the operator's own services). A
    /// failed connection is dropped, the next POST opens a new one.
    pub(crate) async fn post_read(
        &mut self,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<Bytes, PostError> {
        let mut send = match self.conn.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        send.ready()
            .await
            .map_err(|e| PostError::Transport(format!("connection: {e}")))?;
        let path = self
            .url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let authority = self
            .url
            .authority()
            .map_or("localhost", |a| a.as_str())
            .to_owned();
        let mut req = Request::post(path)
            .header(header::HOST, authority)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "easyim-webhook");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| PostError::Transport(format!("request: {e}")))?;
        let res = send
            .send_request(req)
            .await
            .map_err(|e| PostError::Transport(format!("request failed: {e}")))?;
        let status = res.status();
        // Read the answer to the end so the connection can carry the next request.
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| PostError::Transport(format!("reading the answer: {e}")))?
            .to_bytes();
        self.conn = Some(send);
        if status.is_success() {
            Ok(body)
        } else {
            Err(PostError::Status(status.as_u16()))
        }
    }

    /// [`Client::post_read`], the answer's body ignored.
    pub(crate) async fn post(
        &mut self,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(), PostError> {
        self.post_read(body, headers).await.map(|_| ())
    }
}

/// HTTP/1.1 over `stream`; the connection is driven by a task of its own.
async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, PostError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| PostError::Transport(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "webhook connection closed");
        }
    });
    Ok(send)
}
