//! One IM client for every transport of the IM port. A task reads the connection and cuts it
//! into frames as they come, so that a test may read typed [`Msg`]s ([`Client::recv`]) or
//! JSON values ([`Client::next_json`]), and may hand the reading to another task
//! ([`Client::take_frames`]) while it goes on writing flat out. The reading is in `reader.rs`.

use std::net::SocketAddr;

use easyim_proto::{decode_as, Format, Msg};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::reader::{decode, read_tcp, read_ws, Frames, Incoming};
use super::{assert_error, assert_success, field, heartbeat, heartbeat_json, json_bytes};
use super::{login_msg, protobuf, tls_connect, AnyStream, TestCa, User, WAIT};

/// How a client talks to the IM port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 4-byte length frames with protobuf payloads.
    FramedProto,
    /// 4-byte length frames with JSON payloads.
    FramedJson,
    /// JSON lines.
    Lines,
    /// WebSocket text messages (JSON).
    WsText,
    /// WebSocket binary messages (protobuf).
    WsBinary,
}

enum Writer {
    Tcp(Box<dyn AsyncWrite + Unpin + Send>),
    Ws(SplitSink<WebSocketStream<AnyStream>, WsMessage>),
}

/// One IM connection.
pub struct Client {
    /// The format answers must come in; a test may change it when it changes what it sends.
    pub kind: Kind,
    w: Writer,
    frames: Frames,
}

impl Client {
    /// Connects with `kind` (a WebSocket on path `/`).
    pub async fn connect(addr: SocketAddr, kind: Kind) -> Client {
        Self::connect_path(addr, kind, "/").await
    }

    /// Connects with `kind`; a WebSocket upgrades on `path`.
    pub async fn connect_path(addr: SocketAddr, kind: Kind, path: &str) -> Client {
        let s = TcpStream::connect(addr)
            .await
            .expect("connect to the IM port");
        Self::over(Box::new(s), "ws", addr, kind, path).await
    }

    /// Connects over TLS with `kind`, trusting `ca` (WebSocket: `wss://` on path `/`).
    pub async fn connect_tls(addr: SocketAddr, kind: Kind, ca: &TestCa) -> Client {
        let s = tls_connect(addr, ca).await.expect("TLS to the IM port");
        Self::over(Box::new(s), "wss", addr, kind, "/").await
    }

    /// Connects and logs `u` in over TLS, checking the SUCCESS answer.
    pub async fn login_tls(addr: SocketAddr, kind: Kind, u: &User, ca: &TestCa) -> Client {
        let mut c = Self::connect_tls(addr, kind, ca).await;
        c.send(&login_msg(u)).await;
        let m = c.recv().await;
        assert_success(&m, u);
        c
    }

    /// Speaks `kind` over an open stream; a WebSocket upgrades on `scheme://addr/path`.
    async fn over(s: AnyStream, scheme: &str, addr: SocketAddr, kind: Kind, path: &str) -> Client {
        let (w, frames) = match kind {
            Kind::WsText | Kind::WsBinary => {
                let url = format!("{scheme}://{addr}{path}");
                let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, s))
                    .await
                    .expect("WebSocket handshake in time")
                    .expect("WebSocket handshake");
                let (w, r) = ws.split();
                (Writer::Ws(w), read_ws(r))
            }
            _ => {
                let (r, w) = tokio::io::split(s);
                let w: Box<dyn AsyncWrite + Unpin + Send> = Box::new(w);
                (Writer::Tcp(w), read_tcp(r, kind == Kind::Lines))
            }
        };
        Client { kind, w, frames }
    }

    /// Connects and logs `u` in, checking the SUCCESS answer.
    pub async fn login(addr: SocketAddr, kind: Kind, u: &User) -> Client {
        let mut c = Self::connect(addr, kind).await;
        c.send(&login_msg(u)).await;
        let m = c.recv().await;
        assert_success(&m, u);
        assert_eq!((m.id.as_str(), m.seq), ("login", 1));
        c
    }

    /// Sends one message in the client's format.
    pub async fn send(&mut self, m: &Msg) {
        match self.kind {
            Kind::FramedProto => self.send_frame(&protobuf(m)).await,
            Kind::FramedJson => self.send_frame(&json_bytes(m)).await,
            Kind::Lines => {
                let mut line = json_bytes(m);
                line.extend_from_slice(b"\r\n");
                self.send_raw(&line).await;
            }
            Kind::WsText => {
                let t = String::from_utf8(json_bytes(m)).unwrap();
                self.send_ws(WsMessage::text(t)).await;
            }
            Kind::WsBinary => self.send_ws(WsMessage::binary(protobuf(m))).await,
        }
    }

    /// Sends a JSON value (a `\n`-terminated line on [`Kind::Lines`]); an error, not a panic,
    /// if the server is gone.
    pub async fn send_json(&mut self, v: &Value) -> std::io::Result<()> {
        let mut bytes = v.to_string().into_bytes();
        match (self.kind, &mut self.w) {
            (Kind::Lines, Writer::Tcp(s)) => {
                bytes.push(b'\n');
                s.write_all(&bytes).await
            }
            (Kind::FramedJson, Writer::Tcp(s)) => s.write_all(&framed(&bytes)).await,
            (Kind::WsText, Writer::Ws(ws)) => {
                let t = String::from_utf8(bytes).unwrap();
                ws.send(WsMessage::text(t))
                    .await
                    .map_err(std::io::Error::other)
            }
            (kind, _) => panic!("{kind:?}: JSON values go over a JSON transport"),
        }
    }

    /// Sends a length header and `payload`.
    pub async fn send_frame(&mut self, payload: &[u8]) {
        self.send_raw(&framed(payload)).await;
    }

    /// Writes raw bytes to a TCP client.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.w {
            Writer::Tcp(s) => s.write_all(bytes).await.unwrap(),
            Writer::Ws(_) => panic!("raw bytes on a WebSocket"),
        }
    }

    /// Sends one WebSocket message.
    pub async fn send_ws(&mut self, m: WsMessage) {
        match &mut self.w {
            Writer::Ws(ws) => ws.send(m).await.unwrap(),
            Writer::Tcp(_) => panic!("a WebSocket message on TCP"),
        }
    }

    /// The next message, checking it came in the client's format.
    pub async fn recv(&mut self) -> Msg {
        match tokio::time::timeout(WAIT, self.next_msg()).await {
            Ok(Some(m)) => m,
            Ok(None) => panic!(
                "{:?}: connection closed while waiting for a message",
                self.kind
            ),
            Err(_) => panic!("{:?}: no message within {WAIT:?}", self.kind),
        }
    }

    /// The next message that `wanted` accepts, passing over the others (notices, presence);
    /// each [`Client::recv`] panics after [`WAIT`].
    pub async fn recv_where(&mut self, wanted: impl Fn(&Msg) -> bool) -> Msg {
        loop {
            let m = self.recv().await;
            if wanted(&m) {
                return m;
            }
        }
    }

    /// The next message, or `None` at the end of the connection.
    async fn next_msg(&mut self) -> Option<Msg> {
        loop {
            let m = match self.frames.next().await? {
                Incoming::Payload(p) => decode(self.kind, &p),
                Incoming::Ws(WsMessage::Text(t)) => {
                    assert_eq!(self.kind, Kind::WsText, "a text answer: {t}");
                    decode_as(t.as_bytes(), Format::Json).unwrap()
                }
                Incoming::Ws(WsMessage::Binary(b)) => {
                    assert_eq!(self.kind, Kind::WsBinary, "a binary answer");
                    decode_as(&b, Format::Protobuf).unwrap()
                }
                Incoming::Ws(WsMessage::Close(_)) => return None,
                Incoming::Ws(_) => continue,
                Incoming::Broken => panic!("{:?}: partial frame at the end", self.kind),
            };
            return Some(m);
        }
    }

    /// The next frame as JSON, or `None` at the end of the connection; panics after [`WAIT`].
    pub async fn next_json(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, self.frames.read_json())
            .await
            .expect("a frame in time")
    }

    /// Like [`Client::next_json`], waiting as long as it takes.
    pub async fn read_json(&mut self) -> Option<Value> {
        self.frames.read_json().await
    }

    /// Hands the frames to come to someone else; this client goes on writing.
    pub fn take_frames(&mut self) -> Frames {
        std::mem::replace(&mut self.frames, Frames::closed())
    }

    /// Sends a JSON heartbeat of `me` tagged `tag` and returns every frame that came before
    /// its answer.
    pub async fn sync(&mut self, me: u64, tag: &str) -> Vec<Value> {
        self.send_json(&heartbeat_json(me, tag)).await.unwrap();
        let mut before = Vec::new();
        loop {
            let v = self.next_json().await.expect("the heartbeat answer");
            if field(&v, "from_user_id") == "KEEP_ALIVE" && field(&v, "id") == tag {
                return before;
            }
            before.push(v);
        }
    }

    /// Waits for the next raw WebSocket message (pongs included).
    pub async fn recv_ws_raw(&mut self) -> WsMessage {
        assert!(matches!(self.w, Writer::Ws(_)), "not a WebSocket");
        match tokio::time::timeout(WAIT, self.frames.next())
            .await
            .expect("a WebSocket message in time")
            .expect("WebSocket open")
        {
            Incoming::Ws(m) => m,
            other => panic!("not a WebSocket message: {other:?}"),
        }
    }

    /// Asserts the server closes the connection without sending anything more.
    pub async fn expect_closed(&mut self) {
        match tokio::time::timeout(WAIT, self.next_msg()).await {
            Ok(None) => {}
            Ok(Some(m)) => panic!("{:?}: expected the end, got {m:?}", self.kind),
            Err(_) => panic!("{:?}: still open after {WAIT:?}", self.kind),
        }
    }

    /// Expects the error `code`, then the end of the connection.
    pub async fn expect_error_then_close(&mut self, code: &str, id: &str, seq: u32) {
        let m = self.recv().await;
        assert_error(&m, code, id, seq);
        self.expect_closed().await;
    }

    /// Checks the connection is still usable: a heartbeat is answered.
    pub async fn assert_alive(&mut self, u: &User) {
        self.send(&heartbeat(u, 999)).await;
        let m = self.recv().await;
        assert_success(&m, u);
        assert_eq!((m.id.as_str(), m.seq), ("hb-999", 999));
    }
}

/// `payload` behind its 4-byte length header.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut b = (payload.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(payload);
    b
}
