//! The README is executable: its walkthrough ("Five minutes with curl, nc and a WebSocket") is
//! run, as written, against the real `easyim` binary, so that the README cannot drift from the
//! server.
//!
//! The test takes its inputs from README.md itself, read at compile time:
//! - every `curl ...` line is run for real with bash and curl, with the API port of the test's
//!   server in place of 8889 and the shell variables the README tells the reader to set (`$A`,
//!   `$TA`, `$B`, `$TB`, `$G`) in the environment;
//! - a line `A=<alice's id>; ...` sets those variables, from the answer of the register call
//!   of that account (or, for anything else, from the `data` of the last curl answer);
//! - `nc HOST 8888` and `websocat ws://HOST:8888/...` say what the next login frame opens: a
//!   real TCP connection (JSON lines), or a real WebSocket;
//! - every line that starts with `{` is a frame, sent exactly as written with `<A>`, `<TA>`...
//!   replaced by the variables' values, on the connection of the user in its `from_user_id`;
//! - every `#` line that shows a JSON object is an answer to check: the next frame of the
//!   connection of the user the line names before its `{` (`alice's nc shows {...}`), else of
//!   the last frame's sender, or, after a curl line, that curl's answer. Each `"key":value` it
//!   shows must be in the answer with that value; a value ending in `...` must be there and not
//!   empty. Other `#` lines are prose.
//!
//! Any other line fails the test, so the walkthrough holds only commands the test runs. At the
//! end, the walkthrough's main claims are checked once more on what was received: each login
//! answered SUCCESS, the first message acked with `conv_seq` 1, delivered to its offline
//! recipient at login, its READ receipt forwarded to its sender, and found in the history.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "../support/mod.rs"]
mod support;

const README: &str = include_str!("../../../README.md");
/// The walkthrough: this section of the README, up to the next one.
const SECTION: &str = "## Five minutes with curl, nc and a WebSocket";
/// The ports the README shows, which the test replaces with its server's.
const IM_PORT: &str = "8888";
const API_PORT: &str = "8889";
/// The longest any one read or command may take.
const STEP: Duration = Duration::from_secs(20);

/// One open IM connection of the walkthrough.
enum Conn {
    Lines {
        r: Lines<BufReader<OwnedReadHalf>>,
        w: OwnedWriteHalf,
    },
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

impl Conn {
    async fn send(&mut self, line: &str) {
        match self {
            Conn::Lines { w, .. } => {
                w.write_all(format!("{line}\n").as_bytes())
                    .await
                    .expect("write to the IM port");
            }
            Conn::Ws(ws) => ws
                .send(WsMessage::text(line.to_owned()))
                .await
                .expect("send on the WebSocket"),
        }
    }

    /// The next frame, within [`STEP`].
    async fn next(&mut self) -> Value {
        let text = match self {
            Conn::Lines { r, .. } => tokio::time::timeout(STEP, r.next_line())
                .await
                .expect("a frame within the time limit")
                .expect("read from the IM port")
                .expect("the server closed the connection"),
            Conn::Ws(ws) => loop {
                let m = tokio::time::timeout(STEP, ws.next())
                    .await
                    .expect("a WebSocket message within the time limit")
                    .expect("the server closed the WebSocket")
                    .expect("read from the WebSocket");
                match m {
                    WsMessage::Text(t) => break t.as_str().to_owned(),
                    WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                    other => panic!("expected a text message, got {other:?}"),
                }
            },
        };
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// What the next login frame connects with.
enum Opening {
    Tcp,
    Ws(String),
}

/// The last thing the walkthrough did, which an unaddressed `#` answer refers to.
enum Last {
    Nothing,
    Curl,
    Frame,
}

/// The walkthrough's state as it runs.
struct Walk<'a> {
    dir: &'a Path,
    im: SocketAddr,
    api: SocketAddr,
    /// Shell variables and frame placeholders: `A` -> alice's id...
    vars: Vec<(String, String)>,
    /// The user a variable is the id of (`A` -> `alice`), to route `alice's nc shows`.
    names: Vec<(String, String)>,
    /// Register answers by account.
    accounts: HashMap<String, Value>,
    /// Every curl line run, with its answer.
    curls: Vec<(String, Value)>,
    opening: Option<Opening>,
    /// Connections by the variable of their user (`A`).
    conns: HashMap<String, Conn>,
    /// Frames received (and checked) by each connection, in order.
    received: HashMap<String, Vec<Value>>,
    /// Frames sent, by the variable of their sender, as sent.
    sent: Vec<(String, Value)>,
    last_sender: Option<String>,
    last: Last,
    checked: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_works_as_written() {
    let steps = walkthrough(README);
    let dir = tempfile::tempdir().unwrap();
    let proc = support::spawn(dir.path(), &[]).await;
    let mut walk = Walk {
        dir: dir.path(),
        im: proc.im,
        api: proc.api,
        vars: Vec::new(),
        names: Vec::new(),
        accounts: HashMap::new(),
        curls: Vec::new(),
        opening: None,
        conns: HashMap::new(),
        received: HashMap::new(),
        sent: Vec::new(),
        last_sender: None,
        last: Last::Nothing,
        checked: 0,
    };
    for (n, line) in &steps {
        eprintln!("README.md:{n}: {line}");
        walk.step(line).await;
    }
    walk.claims();
    drop(proc);
}

/// The lines of the walkthrough's code blocks, with their line numbers in the README.
fn walkthrough(readme: &str) -> Vec<(usize, String)> {
    let start = readme
        .lines()
        .position(|l| l.trim() == SECTION)
        .unwrap_or_else(|| panic!("README.md has no section {SECTION:?}"));
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, line) in readme.lines().enumerate().skip(start + 1) {
        if !in_block && line.starts_with("## ") {
            break;
        }
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block && !line.trim().is_empty() {
            out.push((i + 1, line.trim().to_owned()));
        }
    }
    assert!(!in_block, "an unterminated code block in the walkthrough");
    assert!(
        out.len() >= 10,
        "the walkthrough has almost no lines to run"
    );
    out
}

mod shown;
mod walk;

use shown::*;
