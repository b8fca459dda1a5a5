//! Helpers of the end-to-end tests: a server on port 0 in a temporary folder, a tiny HTTP/1.1
//! client, and one IM client per transport (framed TCP, JSON lines, WebSocket).

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use easyim_proto::{decode_as, ChatType, Encoded, Format, Msg, MsgStatus, MsgType};
use easyim_server::{Server, Sources};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one answer; generous, for a loaded machine.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server running in this process over SQLite in a temporary folder.
pub struct TestServer {
    pub dir: TempDir,
    pub im: SocketAddr,
    pub api: SocketAddr,
    pub stop: CancellationToken,
    pub handle: JoinHandle<anyhow::Result<()>>,
}

/// Starts a server in a fresh folder with extra settings.
pub async fn start(settings: &[(&str, &str)]) -> TestServer {
    start_in(TempDir::new().unwrap(), settings).await
}

/// Starts a server whose database lives in `dir`.
pub async fn start_in(dir: TempDir, settings: &[(&str, &str)]) -> TestServer {
    let mut s = Sources::default();
    s.set(
        "SQLITE_PATH",
        dir.path().join("easyim.db").to_string_lossy().into_owned(),
    );
    s.set("SERVER_IP", "127.0.0.1");
    s.set("SERVER_PORT", "0");
    s.set("API_SERVER_PORT", "0");
    for (k, v) in settings {
        s.set(k, *v);
    }
    let server = Server::bind(s.config().unwrap()).await.unwrap();
    let (im, api, stop) = (server.im_addr(), server.api_addr(), server.stop_token());
    let handle = tokio::spawn(server.run(std::future::pending()));
    TestServer {
        dir,
        im,
        api,
        stop,
        handle,
    }
}

impl TestServer {
    /// Stops the server, waits for it to end, and hands back its folder.
    pub async fn shutdown(self) -> TempDir {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("server stops in time")
            .unwrap()
            .unwrap();
        self.dir
    }

    /// Registers `account` and returns the new user.
    pub async fn user(&self, account: &str) -> User {
        register(self.api, account).await
    }
}

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub token: String,
}

/// POST /api/user/register.
pub async fn register(api: SocketAddr, account: &str) -> User {
    let (status, body) = http(
        api,
        "POST",
        "/api/user/register",
        Some(json!({"account": account, "password": "pw-123456", "nickname": account})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    User {
        id: body["data"]["id"].as_str().unwrap().to_owned(),
        token: body["data"]["access_token"].as_str().unwrap().to_owned(),
    }
}

/// Creates a group owned by `owner` with `members`; returns its id.
pub async fn create_group(api: SocketAddr, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let (status, body) = http(
        api,
        "POST",
        "/api/group/create",
        Some(json!({"access_token": owner.token, "name": "g", "member_ids": ids})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the JSON body
/// (`Value::Null` if the body is not JSON).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, text) = http_raw(addr, method, path, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Like [`http`], with the body as text.
pub async fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        (status, body)
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("HTTP answer in time")
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

// ---- messages --------------------------------------------------------------------------

/// The login frame of `u`.
pub fn login_msg(u: &User) -> Msg {
    Msg {
        msg_type: MsgType::Event as i32,
        to_user_id: "KEEP_ALIVE".into(),
        from_user_id: u.id.clone(),
        access_token: u.token.clone(),
        content: "127.0.0.1".into(),
        id: "login".into(),
        seq: 1,
        ..Default::default()
    }
}

/// A heartbeat from `u`.
pub fn heartbeat(u: &User, seq: u32) -> Msg {
    Msg {
        access_token: String::new(),
        id: format!("hb-{seq}"),
        seq,
        ..login_msg(u)
    }
}

/// A text message.
pub fn text(from: &User, to: &str, chat: ChatType, id: &str, seq: u32, content: &str) -> Msg {
    Msg {
        id: id.into(),
        seq,
        from_user_id: from.id.clone(),
        to_user_id: to.into(),
        chat_type: chat as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        content: content.into(),
        ..Default::default()
    }
}

/// A receipt from `reader` for message `id` of the conversation with `to`.
pub fn receipt(reader: &User, to: &str, chat: ChatType, id: &str, status: MsgStatus) -> Msg {
    Msg {
        id: id.into(),
        from_user_id: reader.id.clone(),
        to_user_id: to.into(),
        chat_type: chat as i32,
        status: status as i32,
        ..Default::default()
    }
}

/// Asserts `m` is a NOTIFY error with `code`, copying the offending frame's `id` and `seq`.
pub fn assert_error(m: &Msg, code: &str, id: &str, seq: u32) {
    assert_eq!(m.msg_type, MsgType::Notify as i32, "{m:?}");
    assert_eq!(m.from_user_id, "notify", "{m:?}");
    assert!(
        m.content.starts_with(&format!("{code}:")),
        "expected {code}, got {m:?}"
    );
    assert_eq!((m.id.as_str(), m.seq), (id, seq), "{m:?}");
}

/// Asserts `m` is the login / heartbeat SUCCESS frame for `u`.
pub fn assert_success(m: &Msg, u: &User) {
    assert_eq!(m.msg_type, MsgType::Event as i32, "{m:?}");
    assert_eq!(m.from_user_id, "KEEP_ALIVE", "{m:?}");
    assert_eq!(m.to_user_id, u.id, "{m:?}");
    assert_eq!(m.content, "SUCCESS", "{m:?}");
}

pub fn protobuf(m: &Msg) -> Vec<u8> {
    Encoded::new(m.clone()).payload(Format::Protobuf).to_vec()
}

pub fn json_bytes(m: &Msg) -> Vec<u8> {
    serde_json::to_vec(m).unwrap()
}

// ---- clients ---------------------------------------------------------------------------

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

enum Io {
    Tcp { s: TcpStream, buf: Vec<u8> },
    Ws(Box<WebSocketStream<TcpStream>>),
}

/// One IM connection.
pub struct Client {
    pub kind: Kind,
    io: Io,
}

impl Client {
    /// Connects with `kind` (a WebSocket on path `/`).
    pub async fn connect(addr: SocketAddr, kind: Kind) -> Client {
        Self::connect_path(addr, kind, "/").await
    }

    /// Connects with `kind`; a WebSocket upgrades on `path`.
    pub async fn connect_path(addr: SocketAddr, kind: Kind, path: &str) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        let io = match kind {
            Kind::WsText | Kind::WsBinary => {
                let url = format!("ws://{addr}{path}");
                let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, s))
                    .await
                    .expect("WebSocket handshake in time")
                    .expect("WebSocket handshake");
                Io::Ws(Box::new(ws))
            }
            _ => Io::Tcp { s, buf: Vec::new() },
        };
        Client { kind, io }
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

    /// Sends a length header and `payload`.
    pub async fn send_frame(&mut self, payload: &[u8]) {
        let mut b = (payload.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(payload);
        self.send_raw(&b).await;
    }

    /// Writes raw bytes to a TCP client.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.io {
            Io::Tcp { s, .. } => s.write_all(bytes).await.unwrap(),
            Io::Ws(_) => panic!("raw bytes on a WebSocket"),
        }
    }

    /// Sends one WebSocket message.
    pub async fn send_ws(&mut self, m: WsMessage) {
        match &mut self.io {
            Io::Ws(ws) => ws.send(m).await.unwrap(),
            Io::Tcp { .. } => panic!("a WebSocket message on TCP"),
        }
    }

    /// The next message, checking it came in the client's format.
    pub async fn recv(&mut self) -> Msg {
        match tokio::time::timeout(WAIT, self.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => panic!(
                "{:?}: connection closed while waiting for a message",
                self.kind
            ),
            Err(_) => panic!("{:?}: no message within {WAIT:?}", self.kind),
        }
    }

    /// The next message, or `None` at the end of the connection.
    async fn next(&mut self) -> Option<Msg> {
        match &mut self.io {
            Io::Tcp { s, buf } => loop {
                if let Some(m) = take_message(self.kind, buf) {
                    return Some(m);
                }
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => {
                        assert!(buf.is_empty(), "{:?}: partial frame at the end", self.kind);
                        return None;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            },
            Io::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(WsMessage::Text(t))) => {
                        assert_eq!(self.kind, Kind::WsText, "a text answer: {t}");
                        return Some(decode_as(t.as_bytes(), Format::Json).unwrap());
                    }
                    Some(Ok(WsMessage::Binary(b))) => {
                        assert_eq!(self.kind, Kind::WsBinary, "a binary answer");
                        return Some(decode_as(&b, Format::Protobuf).unwrap());
                    }
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return None,
                    Some(Ok(_)) => continue,
                }
            },
        }
    }

    /// Waits for the next raw WebSocket message (pongs included).
    pub async fn recv_ws_raw(&mut self) -> WsMessage {
        let Io::Ws(ws) = &mut self.io else {
            panic!("not a WebSocket")
        };
        tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("WebSocket open")
            .expect("WebSocket message")
    }

    /// Asserts the server closes the connection without sending anything more.
    pub async fn expect_closed(&mut self) {
        match tokio::time::timeout(WAIT, self.next()).await {
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

/// Takes one whole message from the front of `buf`, if there is one.
fn take_message(kind: Kind, buf: &mut Vec<u8>) -> Option<Msg> {
    match kind {
        Kind::Lines => {
            let end = buf.iter().position(|&b| b == b'\n')?;
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = &line[..line.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert_eq!(line.first(), Some(&b'{'), "a JSON line");
            Some(decode_as(line, Format::Json).unwrap())
        }
        _ => {
            if buf.len() < 4 {
                return None;
            }
            let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + n {
                return None;
            }
            let frame: Vec<u8> = buf.drain(..4 + n).collect();
            let payload = &frame[4..];
            let format = if kind == Kind::FramedJson {
                Format::Json
            } else {
                Format::Protobuf
            };
            assert_eq!(
                easyim_proto::detect_format(payload),
                format,
                "{kind:?}: answered in the wrong format"
            );
            Some(decode_as(payload, format).unwrap())
        }
    }
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls GET /healthz until it answers 200.
pub async fn wait_healthy(api: SocketAddr, child: &mut std::process::Child) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("easyim exited early: {status}");
        }
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(api)).await
        {
            let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut out = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
                if out.starts_with(b"HTTP/1.1 200") {
                    return;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "easyim did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for a child process to exit, at most `limit`.
pub async fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("easyim did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `path` exists and is not empty.
pub fn non_empty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}
