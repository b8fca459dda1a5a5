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

mod support;

const README: &str = include_str!("../../README.md");
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

impl Walk<'_> {
    async fn step(&mut self, line: &str) {
        if line.starts_with("curl ") {
            self.curl(line);
        } else if line.starts_with("nc ") {
            let args: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(args.len(), 3, "expected `nc HOST PORT`: {line}");
            assert_eq!(args[2], IM_PORT, "nc connects to the IM port: {line}");
            self.opening = Some(Opening::Tcp);
        } else if let Some(url) = line.strip_prefix("websocat ") {
            let url = url.trim();
            let rest = url
                .strip_prefix("ws://")
                .unwrap_or_else(|| panic!("expected a ws:// URL: {line}"));
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let port = if host.ends_with(&format!(":{IM_PORT}")) {
                self.im.port()
            } else if host.ends_with(&format!(":{API_PORT}")) {
                self.api.port()
            } else {
                panic!("websocat connects to port {IM_PORT} or {API_PORT}: {line}")
            };
            self.opening = Some(Opening::Ws(format!("ws://127.0.0.1:{port}/{path}")));
        } else if line.starts_with('{') {
            self.frame(line).await;
        } else if let Some(comment) = line.strip_prefix('#') {
            if comment.contains("{\"") {
                self.expect(comment).await;
            }
        } else if is_assignment(line) {
            self.assign(line);
        } else {
            panic!("the README test does not know how to run this line: {line}");
        }
    }

    /// Runs a curl line with bash, with the test's API port and the variables set.
    fn curl(&mut self, line: &str) {
        let shown = format!("localhost:{API_PORT}");
        assert!(
            line.contains(&shown),
            "a walkthrough curl calls {shown}: {line}"
        );
        let cmd = line.replace(&shown, &format!("127.0.0.1:{}", self.api.port()));
        // curl reads its config from CURL_HOME: ours bounds every call and ignores the user's.
        let home = self.dir.join("curl-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join(".curlrc"), "max-time = 15\nconnect-timeout = 5\n").unwrap();
        let out_path = self.dir.join("curl.out");
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(&cmd)
            .env("CURL_HOME", &home)
            .env("NO_PROXY", "*")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::inherit());
        for k in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(k);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("run bash (and curl)");
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > STEP {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{cmd}` did not finish within {STEP:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&out_path).unwrap();
        assert!(status.success(), "`{cmd}` failed ({status}): {out}");
        let v: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("`{cmd}` did not answer JSON ({e}): {out}"));
        assert_eq!(v["code"], 200, "`{line}` answered {v}");
        if line.contains("/api/user/register") {
            let account = between(line, "\"account\":\"", "\"")
                .unwrap_or_else(|| panic!("which account does this register? {line}"));
            self.accounts.insert(account.to_owned(), v.clone());
        }
        self.curls.push((line.to_owned(), v));
        self.last = Last::Curl;
    }

    /// `A=<alice's id>; TA=<alice's access_token>; G=<the group's id>`.
    fn assign(&mut self, line: &str) {
        for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (var, what) = part
                .split_once('=')
                .unwrap_or_else(|| panic!("expected VAR=<...>: {part}"));
            let what = what
                .strip_prefix('<')
                .and_then(|w| w.strip_suffix('>'))
                .unwrap_or_else(|| panic!("expected VAR=<whose field>: {part}"));
            let (whose, field) = what
                .split_once("'s ")
                .unwrap_or_else(|| panic!("expected <whose field>: {part}"));
            let answer = match self.accounts.get(whose) {
                Some(a) => {
                    if field == "id" {
                        self.names.push((var.to_owned(), whose.to_owned()));
                    }
                    a
                }
                None => {
                    &self
                        .curls
                        .last()
                        .unwrap_or_else(|| panic!("no curl answer to take {part} from"))
                        .1
                }
            };
            let value = answer["data"][field]
                .as_str()
                .unwrap_or_else(|| panic!("no data.{field} in {answer} for {part}"))
                .to_owned();
            assert!(!value.is_empty(), "an empty data.{field} for {part}");
            self.vars.retain(|(k, _)| k != var);
            self.vars.push((var.to_owned(), value));
        }
    }

    /// `<A>` -> the value of `A`, for every variable; no placeholder may be left.
    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest names first, so that `<TA>` is never taken for `<A>` with a `T`.
        let mut vars: Vec<_> = self.vars.iter().collect();
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in vars {
            out = out.replace(&format!("<{k}>"), v);
        }
        if let Some(p) = between(&out, "\"<", ">\"") {
            panic!("no variable for the placeholder <{p}>: {text}");
        }
        out
    }

    /// Sends a frame as written, on its sender's connection (opening it if the README just
    /// said how).
    async fn frame(&mut self, line: &str) {
        let raw: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON frame ({e}): {line}"));
        let sender = raw["from_user_id"]
            .as_str()
            .and_then(|s| s.strip_prefix('<'))
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or_else(|| panic!("from_user_id must be a placeholder like <A>: {line}"))
            .to_owned();
        let text = self.substitute(line);
        if let Some(opening) = self.opening.take() {
            let conn = match opening {
                Opening::Tcp => {
                    let s = tokio::time::timeout(STEP, TcpStream::connect(self.im))
                        .await
                        .expect("connect in time")
                        .expect("connect to the IM port");
                    let (r, w) = s.into_split();
                    Conn::Lines {
                        r: BufReader::new(r).lines(),
                        w,
                    }
                }
                Opening::Ws(url) => {
                    let (ws, _) =
                        tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url.as_str()))
                            .await
                            .expect("a WebSocket handshake in time")
                            .unwrap_or_else(|e| panic!("WebSocket to {url}: {e}"));
                    Conn::Ws(Box::new(ws))
                }
            };
            let old = self.conns.insert(sender.clone(), conn);
            assert!(old.is_none(), "a second connection for <{sender}>");
        }
        let conn = self
            .conns
            .get_mut(&sender)
            .unwrap_or_else(|| panic!("a frame from <{sender}> before any connection of theirs"));
        conn.send(&text).await;
        self.sent
            .push((sender.clone(), serde_json::from_str(&text).unwrap()));
        self.last_sender = Some(sender);
        self.last = Last::Frame;
    }

    /// Checks a `# ... {...}` answer.
    async fn expect(&mut self, comment: &str) {
        let brace = comment.find('{').unwrap();
        let (prefix, shown) = (
            comment[..brace].to_lowercase(),
            self.substitute(&comment[brace..]),
        );
        let pairs = shown_pairs(&shown);
        assert!(!pairs.is_empty(), "no \"key\":value to check in: {comment}");
        let addressed = self
            .names
            .iter()
            .find(|(_, name)| prefix.contains(&name.to_lowercase()))
            .map(|(var, _)| var.clone());
        match (addressed, &self.last) {
            (None, Last::Curl) => {
                let answer = &self.curls.last().unwrap().1;
                for (k, want) in &pairs {
                    assert!(
                        somewhere(answer, k, want),
                        "the answer {answer} has no \"{k}\":{want:?}, which README.md shows: {comment}"
                    );
                }
            }
            (None, Last::Nothing) => panic!("an answer before anything was done: {comment}"),
            (who, _) => {
                let who = who.or_else(|| self.last_sender.clone()).unwrap();
                let conn = self
                    .conns
                    .get_mut(&who)
                    .unwrap_or_else(|| panic!("<{who}> has no connection: {comment}"));
                let got = conn.next().await;
                for (k, want) in &pairs {
                    assert!(
                        matches(&got[k.as_str()], want),
                        "<{who}> received {got}, without \"{k}\":{want:?}, which README.md shows: {comment}"
                    );
                }
                self.received.entry(who).or_default().push(got);
            }
        }
        self.checked += 1;
    }

    /// The walkthrough's claims, checked once more on what was received, so that a README that
    /// stops showing them fails too.
    fn claims(&self) {
        assert!(self.checked >= 8, "the walkthrough checks almost nothing");
        let var = |name: &str| {
            self.names
                .iter()
                .find(|(_, n)| n == name)
                .map(|(v, _)| v.clone())
                .unwrap_or_else(|| panic!("the walkthrough registers no {name}"))
        };
        let (a, b) = (var("alice"), var("bob"));
        let value = |v: &str| self.vars.iter().find(|(k, _)| k == v).unwrap().1.clone();
        let frames = |who: &str| self.received.get(who).cloned().unwrap_or_default();
        for who in [&a, &b] {
            let first = frames(who).first().cloned().unwrap_or_default();
            assert_eq!(first["content"], "SUCCESS", "<{who}>'s login: {first}");
        }
        let first_chat = self
            .sent
            .iter()
            .find(|(who, m)| *who == a && m["msg_type"] == 0 && m["chat_type"] == 0)
            .map(|(_, m)| m.clone())
            .expect("alice sends a message");
        let id = first_chat["id"].as_str().unwrap();
        assert_eq!(first_chat["to_user_id"], value(&b), "alice writes to bob");
        let ack = frames(&a)
            .into_iter()
            .find(|m| m["id"] == id)
            .expect("alice's message is acked");
        assert_eq!(ack["status"], 1, "the ack says SENT: {ack}");
        assert_eq!(ack["conv_seq"], 1, "the first message is conv_seq 1: {ack}");
        let pending = frames(&b).get(1).cloned().unwrap_or_default();
        assert_eq!(
            pending["id"], id,
            "bob gets the pending message right after login"
        );
        assert_eq!(pending["from_user_id"], value(&a), "{pending}");
        assert_eq!(pending["conv_seq"], 1, "{pending}");
        let receipt = frames(&a)
            .into_iter()
            .find(|m| m["id"] == id && m["from_user_id"] == value(&b))
            .expect("bob's receipt reaches alice");
        assert_eq!(receipt["status"], 3, "a READ receipt: {receipt}");
        let history = self
            .curls
            .iter()
            .find(|(line, _)| line.contains("/api/messages"))
            .map(|(_, v)| v.clone())
            .expect("the walkthrough reads the history");
        let items = history["data"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            items
                .iter()
                .any(|m| m["id"] == id && m["content"] == first_chat["content"]),
            "the history holds the message: {history}"
        );
        if let Some((_, group)) = self
            .sent
            .iter()
            .find(|(who, m)| *who == a && m["chat_type"] == 1)
        {
            assert!(
                frames(&b)
                    .iter()
                    .any(|m| m["id"] == group["id"] && m["chat_type"] == 1),
                "bob gets the group message"
            );
        }
    }
}

fn is_assignment(line: &str) -> bool {
    line.split(';').all(|p| {
        let p = p.trim();
        p.split_once("=<").is_some_and(|(var, rest)| {
            !var.is_empty() && var.chars().all(|c| c.is_ascii_uppercase()) && rest.ends_with('>')
        })
    })
}

/// The text between the first `open` and the next `close` after it.
fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// A value the README shows: exactly this, or (ending in `...`) anything there and not empty.
#[derive(Debug, PartialEq)]
enum Shown {
    Exactly(Value),
    Present,
}

/// The `"key":value` pairs of a JSON object as the README shows it, with `...` for what it
/// leaves out: string and number values only (an object or a list is looked into, not taken).
fn shown_pairs(text: &str) -> Vec<(String, Shown)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let (s, end) = read_string(text, i);
        i = end;
        if b.get(i) != Some(&b':') {
            continue; // a value, already read
        }
        i += 1;
        match b.get(i) {
            Some(b'"') => {
                let (v, end) = read_string(text, i);
                i = end;
                let shown = match v.strip_suffix("...") {
                    Some(_) => Shown::Present,
                    None => Shown::Exactly(Value::String(v)),
                };
                out.push((s, shown));
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'-') {
                    i += 1;
                }
                let shown = if text[i..].starts_with("...") {
                    i += 3;
                    Shown::Present
                } else {
                    Shown::Exactly(serde_json::from_str(&text[start..i]).unwrap())
                };
                out.push((s, shown));
            }
            _ => {}
        }
    }
    out
}

/// A JSON string starting at `b[at] == '"'`: its value and the index after its closing quote.
fn read_string(text: &str, at: usize) -> (String, usize) {
    let b = text.as_bytes();
    let mut i = at + 1;
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    let end = (i + 1).min(b.len());
    let value = serde_json::from_str(&text[at..end]).unwrap_or_else(|_| text[at + 1..i].to_owned());
    (value, end)
}

fn matches(got: &Value, want: &Shown) -> bool {
    match want {
        Shown::Exactly(v) => got == v,
        Shown::Present => match got {
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => false,
        },
    }
}

/// Whether some object in `v`, at any depth, has `key` with the value shown.
fn somewhere(v: &Value, key: &str, want: &Shown) -> bool {
    match v {
        Value::Object(m) => {
            m.get(key).is_some_and(|got| matches(got, want))
                || m.values().any(|c| somewhere(c, key, want))
        }
        Value::Array(items) => items.iter().any(|c| somewhere(c, key, want)),
        _ => false,
    }
}

#[test]
fn shown_pairs_reads_what_the_readme_shows() {
    let pairs =
        shown_pairs(r#"{"id":"...","seq":0,"content":"a \"b\"","t":1796...,"data":{"x":-1},...}"#);
    assert_eq!(
        pairs,
        vec![
            ("id".to_owned(), Shown::Present),
            ("seq".to_owned(), Shown::Exactly(0.into())),
            ("content".to_owned(), Shown::Exactly("a \"b\"".into())),
            ("t".to_owned(), Shown::Present),
            ("x".to_owned(), Shown::Exactly((-1).into())),
        ]
    );
    assert!(is_assignment("A=<alice's id>; TA=<alice's access_token>"));
    assert!(!is_assignment("curl -s x"));
}
