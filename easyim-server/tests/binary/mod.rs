//! Shared by the tests that run the real `easyim` binary (crash.rs, abuse.rs): start it on
//! free ports in a folder, call the HTTP API, and talk JSON lines to the IM port.
#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long any single wait of these tests may take on a loaded machine.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

// ---- the binary ----------------------------------------------------------------------------

/// A running `easyim` process; killed (SIGKILL) when dropped.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) im: SocketAddr,
    pub(crate) api: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// SIGKILL, and wait for the process to be gone.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

/// A free port, for 127.0.0.1 or 0.0.0.0 (some sandboxes refuse 0.0.0.0:P for a while after
/// 127.0.0.1:P was bound, but not the other way round).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary in `dir` on fresh ports and waits until both ports accept.
pub(crate) async fn spawn(dir: &Path, env: &[(&str, &str)]) -> Proc {
    for attempt in 0..5 {
        let (p1, p2) = (free_port(), free_port());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_easyim"));
        cmd.current_dir(dir)
            .env_remove("RUST_LOG")
            .env("SERVER_IP", "127.0.0.1")
            .env("SERVER_PORT", p1.to_string())
            .env("API_SERVER_PORT", p2.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut p = Proc {
            child: cmd.spawn().expect("spawn easyim"),
            im: SocketAddr::from(([127, 0, 0, 1], p1)),
            api: SocketAddr::from(([127, 0, 0, 1], p2)),
        };
        let t0 = Instant::now();
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                eprintln!("easyim exited at start ({status}), attempt {attempt}");
                break;
            }
            if TcpStream::connect(p.im).await.is_ok() && TcpStream::connect(p.api).await.is_ok() {
                return p;
            }
            assert!(t0.elapsed() < WAIT, "easyim did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = p.child.wait();
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("easyim would not start:\n{log}");
}

// ---- HTTP ----------------------------------------------------------------------------------

/// One request with `Connection: close`; returns the status and the JSON body.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).await.expect("connect to the API");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("an HTTP answer in time")
        .unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = buf[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 4 + size..];
        }
        body = out;
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub(crate) struct Account {
    pub(crate) id: u64,
    pub(crate) token: String,
}

pub(crate) async fn register(api: SocketAddr, account: &str) -> Account {
    let (status, v) = http(
        api,
        "POST",
        "/api/user/register",
        Some(&json!({"account": account, "password": "pw-123456", "nickname": account})),
    )
    .await;
    assert_eq!(status, 200, "register {account}: {v}");
    Account {
        id: v["data"]["id"].as_str().unwrap().parse().unwrap(),
        token: v["data"]["access_token"].as_str().unwrap().to_owned(),
    }
}

pub(crate) async fn create_group(api: SocketAddr, owner: &Account, members: &[u64]) -> u64 {
    let ids: Vec<String> = members.iter().map(u64::to_string).collect();
    let (status, v) = http(
        api,
        "POST",
        "/api/group/create",
        Some(&json!({"access_token": owner.token, "name": "crash", "member_ids": ids})),
    )
    .await;
    assert_eq!(status, 200, "group create: {v}");
    v["data"]["id"].as_str().unwrap().parse().unwrap()
}

/// The whole history of a conversation, oldest first.
pub(crate) async fn history(api: SocketAddr, token: &str, chat_type: u8, peer: u64) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut after = 0;
    loop {
        let path = format!(
            "/api/messages?access_token={token}&chat_type={chat_type}&peer_id={peer}&after_seq={after}&limit=200"
        );
        let (status, v) = http(api, "GET", &path, None).await;
        assert_eq!(status, 200, "history: {v}");
        let items = v["data"]["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        after = num(items.last().unwrap(), "conv_seq");
        out.extend(items);
    }
}

// ---- JSON-lines IM client ------------------------------------------------------------------

pub(crate) fn num(v: &Value, k: &str) -> u64 {
    match &v[k] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

pub(crate) struct Client {
    pub(crate) w: OwnedWriteHalf,
    pub(crate) rx: mpsc::UnboundedReceiver<Value>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr)
            .await
            .expect("connect to the IM port");
        let (r, w) = s.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&line).expect("the server sends JSON");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Client { w, rx }
    }

    pub(crate) async fn login(addr: SocketAddr, who: &Account) -> Client {
        let mut c = Client::connect(addr).await;
        c.send(&json!({"msg_type": 4, "to_user_id": "KEEP_ALIVE", "from_user_id": who.id.to_string(), "access_token": who.token}))
            .await
            .unwrap();
        let v = c.next().await.expect("a login answer");
        assert_eq!(text(&v, "content"), "SUCCESS", "login: {v}");
        c
    }

    pub(crate) async fn send(&mut self, v: &Value) -> std::io::Result<()> {
        let mut line = v.to_string();
        line.push('\n');
        self.w.write_all(line.as_bytes()).await
    }

    /// The next frame, or None when the connection is closed; panics after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("a frame in time")
    }

    /// Sends a heartbeat and returns every frame that came before its answer.
    pub(crate) async fn sync(&mut self, me: u64, tag: &str) -> Vec<Value> {
        self.send(&json!({"msg_type": 4, "to_user_id": "KEEP_ALIVE", "from_user_id": me.to_string(), "id": tag}))
            .await
            .unwrap();
        let mut before = Vec::new();
        loop {
            let v = self.next().await.expect("the heartbeat answer");
            if text(&v, "from_user_id") == "KEEP_ALIVE" && text(&v, "id") == tag {
                return before;
            }
            before.push(v);
        }
    }
}

pub(crate) fn chat(id: &str, from: u64, to: u64, chat_type: u8) -> Value {
    json!({"id": id, "from_user_id": from.to_string(), "to_user_id": to.to_string(),
           "chat_type": chat_type, "msg_type": 0, "status": 1, "content": id})
}
