//! Connections to the target: open one from a spread of source addresses, over TLS or not,
//! speak pb, json or ws over it, log in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use easyim_proto::{Format, FormatPolicy, FramedCodec, Msg, MsgType, KEEP_ALIVE};
use futures::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::args::Transport;
use crate::tls::Tls;

/// A connection's byte stream: a socket, or TLS over one.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Io for S {}

/// The writing half of a connection.
type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;
/// The reading half of a connection.
type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;

/// The sending half of a logged-in connection.
pub(crate) enum Tx {
    /// Framed TCP, in the given format.
    Framed(FramedWrite<WriteHalf, FramedCodec>, Format),
    /// WebSocket, binary protobuf.
    Ws(futures::stream::SplitSink<WebSocketStream<Box<dyn Io>>, WsMessage>),
}

/// The receiving half of a logged-in connection.
pub(crate) enum Rx {
    /// Framed TCP (either format).
    Framed(FramedRead<ReadHalf, FramedCodec>),
    /// WebSocket (binary protobuf or text JSON).
    Ws(futures::stream::SplitStream<WebSocketStream<Box<dyn Io>>>),
}

// By hand: the boxed streams have no `Debug`.
impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tx::Framed(_, format) => write!(f, "Tx::Framed({format:?})"),
            Tx::Ws(_) => f.write_str("Tx::Ws"),
        }
    }
}

impl std::fmt::Debug for Rx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rx::Framed(_) => f.write_str("Rx::Framed"),
            Rx::Ws(_) => f.write_str("Rx::Ws"),
        }
    }
}

impl Tx {
    /// Queues a frame without flushing.
    pub(crate) async fn feed(&mut self, m: &Msg) -> Result<()> {
        match self {
            Tx::Framed(w, Format::Protobuf) => w.feed(Bytes::from(m.encode_to_vec())).await?,
            Tx::Framed(w, Format::Json) => w.feed(Bytes::from(serde_json::to_vec(m)?)).await?,
            Tx::Ws(w) => w.feed(WsMessage::Binary(m.encode_to_vec().into())).await?,
        }
        Ok(())
    }

    /// Writes out what was fed.
    pub(crate) async fn flush(&mut self) -> Result<()> {
        match self {
            Tx::Framed(w, _) => SinkExt::<Bytes>::flush(w).await?,
            Tx::Ws(w) => w.flush().await?,
        }
        Ok(())
    }

    /// Feeds and flushes one frame.
    pub(crate) async fn send(&mut self, m: &Msg) -> Result<()> {
        self.feed(m).await?;
        self.flush().await
    }
}

impl Rx {
    /// The next frame; `None` once the peer closed.
    pub(crate) async fn next(&mut self) -> Option<Result<Msg>> {
        match self {
            Rx::Framed(r) => r
                .next()
                .await
                .map(|x| x.map(|(m, _)| m).map_err(Into::into)),
            Rx::Ws(r) => loop {
                match r.next().await? {
                    Ok(WsMessage::Binary(b)) => {
                        return Some(Msg::decode(&b[..]).map_err(Into::into));
                    }
                    Ok(WsMessage::Text(t)) => {
                        return Some(serde_json::from_str(t.as_str()).map_err(Into::into));
                    }
                    Ok(WsMessage::Close(_)) => return None,
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e.into())),
                }
            },
        }
    }
}

/// Where connections go and how they authenticate.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The IM ports connections are spread over (one per node).
    pub(crate) ims: Arc<[SocketAddr]>,
    pub(crate) transport: Transport,
    /// `--tls`: connections make a TLS handshake first.
    pub(crate) tls: Option<Tls>,
}

/// Source addresses handed out so far (127.0.0.2..127.0.0.254, round robin).
static SRC_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Connections handed to a node so far (round robin over `Target::ims`).
static NODE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Target {
    /// The IM port of the next connection, round robin over the nodes.
    fn next_im(&self) -> SocketAddr {
        let i = NODE_COUNTER.fetch_add(1, Relaxed) as usize;
        self.ims[i % self.ims.len()]
    }
}

/// Opens a TCP connection from the next source address of 127.0.0.2..127.0.0.254.
pub(crate) async fn tcp_connect(to: SocketAddr) -> Result<TcpStream> {
    let i = SRC_COUNTER.fetch_add(1, Relaxed);
    let sock = TcpSocket::new_v4()?;
    if to.ip().is_loopback() {
        let src = Ipv4Addr::new(127, 0, 0, 2 + (i % 253) as u8);
        sock.bind(SocketAddr::new(IpAddr::V4(src), 0))?;
    }
    let s = sock.connect(to).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// The KEEP_ALIVE frame that logs a connection in.
fn login_frame(uid: &str, token: &str) -> Msg {
    Msg {
        msg_type: MsgType::Event as i32,
        to_user_id: KEEP_ALIVE.into(),
        from_user_id: uid.into(),
        access_token: token.into(),
        content: "easyim-bench".into(),
        ..Msg::default()
    }
}

/// Whether a frame is the server's SUCCESS answer to a login or a heartbeat.
pub(crate) fn is_keepalive_success(m: &Msg) -> bool {
    m.msg_type == MsgType::Event as i32 && m.from_user_id == KEEP_ALIVE && m.content == "SUCCESS"
}

/// Opens the transport's halves over a fresh connection to `im`.
async fn open(transport: Transport, im: SocketAddr, tls: Option<&Tls>) -> Result<(Tx, Rx)> {
    let tcp = tcp_connect(im).await?;
    Ok(match transport {
        Transport::Pb | Transport::Json => {
            let (r, w): (ReadHalf, WriteHalf) = match tls {
                Some(tls) => {
                    let (r, w) = tokio::io::split(tls.wrap(tcp, im).await?);
                    (Box::new(r), Box::new(w))
                }
                None => {
                    let (r, w) = tcp.into_split();
                    (Box::new(r), Box::new(w))
                }
            };
            let codec = FramedCodec::new(1 << 20, FormatPolicy::Auto);
            let f = if transport == Transport::Pb {
                Format::Protobuf
            } else {
                Format::Json
            };
            (
                Tx::Framed(FramedWrite::new(w, codec.clone()), f),
                Rx::Framed(FramedRead::new(r, codec)),
            )
        }
        Transport::Ws => {
            let (s, url): (Box<dyn Io>, _) = match tls {
                Some(tls) => (Box::new(tls.wrap(tcp, im).await?), format!("wss://{im}/ws")),
                None => (Box::new(tcp), format!("ws://{im}/ws")),
            };
            let (ws, _) = tokio_tungstenite::client_async(url, s).await?;
            let (w, r) = ws.split();
            (Tx::Ws(w), Rx::Ws(r))
        }
    })
}

/// Connects and logs in; returns the halves once SUCCESS arrived.
pub(crate) async fn connect_login(t: &Target, uid: &str, token: &str) -> Result<(Tx, Rx)> {
    let (mut tx, mut rx) = open(t.transport, t.next_im(), t.tls.as_ref()).await?;
    tx.send(&login_frame(uid, token)).await?;
    let m = tokio::time::timeout(Duration::from_secs(30), rx.next())
        .await
        .map_err(|_| anyhow!("login: no answer in 30 s"))?
        .ok_or_else(|| anyhow!("login: connection closed"))??;
    if !is_keepalive_success(&m) {
        bail!("login refused: {}", m.content);
    }
    Ok((tx, rx))
}
