//! `easyim-bench`: the end-to-end load generator.
//!
//! Drives a running easyim server (`--server`) and/or a bare in-process tokio forwarder of the
//! same frames (`--baseline`) with one scenario (`direct`, `group`, `idle`, `login`), checks
//! what it receives (every acked message delivered exactly once per recipient connection, the
//! delivered copy equal to the acked one, `conv_seq` strictly increasing per conversation per
//! connection) and reports throughput, latency and violations. Exits non-zero on any violation
//! or error. See BENCHMARKS.md.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use easyim_proto::{
    frames, ChatType, Encoded, Format, FormatPolicy, FramedCodec, Msg, MsgStatus, MsgType,
    KEEP_ALIVE,
};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use prost::Message as _;
use serde_json::{json, Value};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug, Clone)]
#[command(name = "easyim-bench", about = "Load generator and checker for easyim")]
struct Args {
    /// Run the scenario against a running server (`--im`, `--api`).
    #[arg(long)]
    server: bool,
    /// Run the scenario against a bare in-process tokio forwarder of the same frames.
    #[arg(long)]
    baseline: bool,
    /// The server's IM port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    im: SocketAddr,
    /// The server's HTTP API port.
    #[arg(long, default_value = "127.0.0.1:8889")]
    api: SocketAddr,
    /// The IM ports of further nodes of a cluster (comma-separated): connections are spread
    /// over `--im` and these, round robin, so senders and recipients sit on different nodes.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<SocketAddr>,
    /// The server's process id: RSS (idle) and CPU use are read from /proc/<pid>.
    #[arg(long)]
    server_pid: Option<u32>,
    /// direct, group, idle or login.
    #[arg(long, value_enum, default_value = "direct")]
    scenario: Scenario,
    /// pb (framed protobuf), json (framed JSON) or ws (WebSocket, binary protobuf).
    #[arg(long, value_enum, default_value = "pb")]
    transport: Transport,
    /// Seconds of load (idle: seconds to hold the connections once all are up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// direct: sender/receiver pairs.
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// Messages in flight (sent, not yet acked) per sender.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Content bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Target messages per second over all senders (0: flat out).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// group: number of groups.
    #[arg(long, default_value_t = 1)]
    groups: usize,
    /// group: members per group (all online).
    #[arg(long, default_value_t = 500)]
    members: usize,
    /// group: senders per group.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// idle: connections to hold; login: 0.
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// idle and login: distinct users the connections log in as (a user may hold many).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// idle: seconds between heartbeats per connection.
    #[arg(long, default_value_t = 30.0)]
    heartbeat: f64,
    /// login: concurrent open-login-close loops.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Concurrent registrations while seeding (password hashing is slow).
    #[arg(long, default_value_t = 16)]
    seed_concurrency: usize,
    /// Seconds to wait for outstanding acks and deliveries after the load stops.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Make the baseline forwarder misbehave on every 1000th message (dup, drop or reorder),
    /// to see the checker catch it.
    #[arg(long, value_enum, hide = true, default_value = "none")]
    fault: Fault,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Direct,
    Group,
    Idle,
    Login,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Fault {
    #[default]
    None,
    Dup,
    Drop,
    Reorder,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Pb,
    Json,
    Ws,
}

// ---------------------------------------------------------------------------------------------
// Histogram (microseconds, ~3% resolution)

#[derive(Clone)]
struct Hist {
    buckets: Vec<u64>,
    n: u64,
}

impl Hist {
    fn new() -> Self {
        Hist {
            buckets: vec![0; 64 + 60 * 32],
            n: 0,
        }
    }
    fn index(v: u64) -> usize {
        if v < 64 {
            v as usize
        } else {
            let e = 63 - v.leading_zeros() as u64; // >= 6
            let m = (v >> (e - 5)) & 31;
            (64 + (e - 6) * 32 + m) as usize
        }
    }
    fn value(i: usize) -> u64 {
        if i < 64 {
            i as u64
        } else {
            let e = ((i - 64) / 32 + 6) as u64;
            let m = ((i - 64) % 32) as u64;
            ((32 + m) << (e - 5)) + (1u64 << (e - 5)) / 2
        }
    }
    fn record(&mut self, us: u64) {
        let i = Self::index(us).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.n += 1;
    }
    fn merge(&mut self, o: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.n += o.n;
    }
    /// Quantile in milliseconds (NaN if empty).
    fn q_ms(&self, q: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let target = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            acc += c;
            if acc >= target {
                return Self::value(i) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Report {
    /// Ordered metrics: name, value.
    metrics: Vec<(String, f64)>,
    errors: u64,
    error_samples: Vec<String>,
    violations: u64,
    violation_samples: Vec<String>,
}

impl Report {
    fn put(&mut self, k: &str, v: f64) {
        self.metrics.push((k.to_string(), v));
    }
    fn get(&self, k: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| n == k).map(|(_, v)| *v)
    }
    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.metrics {
            m.insert(
                k.clone(),
                if v.is_finite() { json!(v) } else { Value::Null },
            );
        }
        m.insert("errors".into(), json!(self.errors));
        m.insert("error_samples".into(), json!(self.error_samples));
        m.insert("violations".into(), json!(self.violations));
        m.insert("violation_samples".into(), json!(self.violation_samples));
        Value::Object(m)
    }
}

/// Errors and violations, shared by every task of a run.
#[derive(Default)]
struct Problems {
    errors: AtomicU64,
    violations: AtomicU64,
    error_samples: Mutex<Vec<String>>,
    violation_samples: Mutex<Vec<String>>,
}

impl Problems {
    fn error(&self, s: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut v = self.error_samples.lock().unwrap();
        if v.len() < 10 {
            v.push(s);
        }
    }
    fn violation(&self, s: String) {
        self.violations.fetch_add(1, Relaxed);
        let mut v = self.violation_samples.lock().unwrap();
        if v.len() < 10 {
            v.push(s);
        }
    }
    fn violations_n(&self, n: u64, s: String) {
        if n == 0 {
            return;
        }
        self.violations.fetch_add(n - 1, Relaxed);
        self.violation(s);
    }
    fn fill(&self, r: &mut Report) {
        r.errors = self.errors.load(Relaxed);
        r.violations = self.violations.load(Relaxed);
        r.error_samples = self.error_samples.lock().unwrap().clone();
        r.violation_samples = self.violation_samples.lock().unwrap().clone();
    }
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn open_files_limit() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let l = s.lines().find(|l| l.starts_with("Max open files"))?;
    let f: Vec<&str> = l["Max open files".len()..].split_whitespace().collect();
    let p = |x: &str| {
        if x == "unlimited" {
            Some(u64::MAX)
        } else {
            x.parse().ok()
        }
    };
    Some((p(f.first()?)?, p(f.get(1)?)?))
}

/// CPU use of the server and of this process over a window, in percent of one core.
struct CpuWindow {
    t: Instant,
    server: Option<(String, u64)>,
    me: u64,
}

impl CpuWindow {
    fn start(server_pid: Option<u32>) -> Self {
        CpuWindow {
            t: Instant::now(),
            server: server_pid
                .map(|p| p.to_string())
                .and_then(|p| cpu_ticks(&p).map(|t| (p, t))),
            me: cpu_ticks("self").unwrap_or(0),
        }
    }
    fn finish(&self, r: &mut Report) {
        let secs = self.t.elapsed().as_secs_f64();
        // Linux reports in USER_HZ, 100 on every common configuration.
        if let Some((p, t0)) = &self.server {
            if let Some(t1) = cpu_ticks(p) {
                r.put("server_cpu_pct", (t1 - t0) as f64 / secs);
            }
        }
        if let Some(t1) = cpu_ticks("self") {
            r.put("bench_cpu_pct", (t1 - self.me) as f64 / secs);
        }
        // The machine is shared: say how busy it was.
        if let Some(l) = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        {
            r.put("loadavg_1m", l);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

enum Tx {
    Framed(FramedWrite<OwnedWriteHalf, FramedCodec>, Format),
    Ws(futures::stream::SplitSink<WebSocketStream<TcpStream>, WsMessage>),
}

enum Rx {
    Framed(FramedRead<OwnedReadHalf, FramedCodec>),
    Ws(futures::stream::SplitStream<WebSocketStream<TcpStream>>),
}

impl Tx {
    async fn feed(&mut self, m: &Msg) -> Result<()> {
        match self {
            Tx::Framed(w, Format::Protobuf) => w.feed(Bytes::from(m.encode_to_vec())).await?,
            Tx::Framed(w, Format::Json) => w.feed(Bytes::from(serde_json::to_vec(m)?)).await?,
            Tx::Ws(w) => w.feed(WsMessage::Binary(m.encode_to_vec().into())).await?,
        }
        Ok(())
    }
    async fn flush(&mut self) -> Result<()> {
        match self {
            Tx::Framed(w, _) => SinkExt::<Bytes>::flush(w).await?,
            Tx::Ws(w) => w.flush().await?,
        }
        Ok(())
    }
    async fn send(&mut self, m: &Msg) -> Result<()> {
        self.feed(m).await?;
        self.flush().await
    }
}

impl Rx {
    async fn next(&mut self) -> Option<Result<Msg>> {
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
#[derive(Clone)]
struct Target {
    /// The IM ports connections are spread over (one per node).
    ims: Arc<[SocketAddr]>,
    transport: Transport,
}

impl Target {
    /// The IM port of the next connection, round robin over the nodes.
    fn next_im(&self) -> SocketAddr {
        let i = NODE_COUNTER.fetch_add(1, Relaxed) as usize;
        self.ims[i % self.ims.len()]
    }
}

static SRC_COUNTER: AtomicU64 = AtomicU64::new(0);
static NODE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Opens a TCP connection from the next source address of 127.0.0.2..127.0.0.254.
async fn tcp_connect(to: SocketAddr) -> Result<TcpStream> {
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

fn is_keepalive_success(m: &Msg) -> bool {
    m.msg_type == MsgType::Event as i32 && m.from_user_id == KEEP_ALIVE && m.content == "SUCCESS"
}

/// Connects and logs in; returns the halves once SUCCESS arrived.
async fn connect_login(t: &Target, uid: &str, token: &str) -> Result<(Tx, Rx)> {
    let im = t.next_im();
    let s = tcp_connect(im).await?;
    let (mut tx, mut rx) = match t.transport {
        Transport::Pb | Transport::Json => {
            let (r, w) = s.into_split();
            let codec = FramedCodec::new(1 << 20, FormatPolicy::Auto);
            let f = if t.transport == Transport::Pb {
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
            let url = format!("ws://{im}/ws");
            let (ws, _) = tokio_tungstenite::client_async(url, s).await?;
            let (w, r) = ws.split();
            (Tx::Ws(w), Rx::Ws(r))
        }
    };
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

// ---------------------------------------------------------------------------------------------
// Seeding users and groups

#[derive(Clone, Debug)]
struct User {
    id: String,
    token: String,
}

/// Users and groups, either registered through the HTTP API or made up for the baseline.
trait Seeder {
    async fn users(&self, n: usize) -> Result<Vec<User>>;
    async fn group(&self, members: &[User]) -> Result<String>;
}

struct ApiSeeder {
    api: SocketAddr,
    concurrency: usize,
    tag: String,
}

async fn http_post(api: SocketAddr, path: &str, body: Value) -> Result<Value> {
    let s = TcpStream::connect(api).await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::post(path)
        .header("host", api.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let resp = send.send_request(req).await?;
    let status = resp.status();
    let b = resp.into_body().collect().await?.to_bytes();
    let v: Value = serde_json::from_slice(&b)
        .with_context(|| format!("{path}: {status}: {}", String::from_utf8_lossy(&b)))?;
    if !status.is_success() {
        bail!("{path}: {status}: {v}");
    }
    Ok(v["data"].clone())
}

impl Seeder for ApiSeeder {
    async fn users(&self, n: usize) -> Result<Vec<User>> {
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let out = Arc::new(Mutex::new(vec![None; n]));
        let mut tasks = Vec::new();
        for _ in 0..self.concurrency.max(1) {
            let (next, out, api, tag) = (next.clone(), out.clone(), self.api, self.tag.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Relaxed) as usize;
                    if i >= n {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let account = format!("bench{tag}u{i}");
                    let d = http_post(
                        api,
                        "/api/user/register",
                        json!({"account": account, "password": "bench-password", "nickname": account}),
                    )
                    .await?;
                    let u = User {
                        id: d["id"].as_str().map(str::to_owned).unwrap_or_else(|| d["id"].to_string()),
                        token: d["access_token"].as_str().context("no access_token")?.to_owned(),
                    };
                    out.lock().unwrap()[i] = Some(u);
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let v: Vec<User> = out.lock().unwrap().drain(..).map(|u| u.unwrap()).collect();
        eprintln!(
            "seeded {n} users in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(v)
    }

    async fn group(&self, members: &[User]) -> Result<String> {
        let ids: Vec<&str> = members[1..].iter().map(|u| u.id.as_str()).collect();
        let d = http_post(
            self.api,
            "/api/group/create",
            json!({"access_token": members[0].token, "name": format!("bench{}", self.tag), "member_ids": ids}),
        )
        .await?;
        Ok(d["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| d["id"].to_string()))
    }
}

struct BaselineSeeder {
    fwd: Arc<Forwarder>,
    next: AtomicU64,
}

impl Seeder for BaselineSeeder {
    async fn users(&self, n: usize) -> Result<Vec<User>> {
        Ok((0..n)
            .map(|_| User {
                id: (1_000_000 + self.next.fetch_add(1, Relaxed)).to_string(),
                token: "baseline".into(),
            })
            .collect())
    }
    async fn group(&self, members: &[User]) -> Result<String> {
        let id = format!("9{}", 1_000_000 + self.next.fetch_add(1, Relaxed));
        self.fwd
            .state
            .lock()
            .unwrap()
            .groups
            .insert(id.clone(), members.iter().map(|u| u.id.clone()).collect());
        Ok(id)
    }
}

// ---------------------------------------------------------------------------------------------
// The baseline: a bare tokio forwarder of the same frames

/// A forwarder connection: its number and its outgoing queue.
type FwdConn = (u64, mpsc::UnboundedSender<Arc<Encoded>>);

#[derive(Default)]
struct FwdState {
    conns: HashMap<String, Vec<FwdConn>>,
    groups: HashMap<String, Vec<String>>,
    convs: HashMap<String, u64>,
}

#[derive(Default)]
struct Forwarder {
    state: Mutex<FwdState>,
    next_conn: AtomicU64,
    fault: Fault,
    forwarded: AtomicU64,
}

impl Forwarder {
    async fn start(fault: Fault) -> Result<(Arc<Self>, SocketAddr)> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let fwd = Arc::new(Forwarder {
            fault,
            ..Forwarder::default()
        });
        let f = fwd.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let f = f.clone();
                tokio::spawn(async move {
                    let _ = f.serve(s).await;
                });
            }
        });
        Ok((fwd, addr))
    }

    async fn serve(self: Arc<Self>, s: TcpStream) -> Result<()> {
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        let mut rd = FramedRead::new(r, FramedCodec::default());
        let mut wr = FramedWrite::new(w, FramedCodec::default());
        let Some(first) = rd.next().await else {
            return Ok(());
        };
        let (login, format) = first?;
        if login.to_user_id != KEEP_ALIVE {
            return Ok(());
        }
        let uid = login.from_user_id.clone();
        let me = self.next_conn.fetch_add(1, Relaxed);
        let (qtx, mut qrx) = mpsc::unbounded_channel::<Arc<Encoded>>();
        qtx.send(Arc::new(Encoded::new(frames::login_success(
            &uid, &login.id, login.seq,
        ))))?;
        self.state
            .lock()
            .unwrap()
            .conns
            .entry(uid.clone())
            .or_default()
            .push((me, qtx.clone()));
        let writer = tokio::spawn(async move {
            while let Some(m) = qrx.recv().await {
                wr.feed(m.payload(format).clone()).await?;
                let mut n = 0;
                while n < 256 {
                    match qrx.try_recv() {
                        Ok(m) => wr.feed(m.payload(format).clone()).await?,
                        Err(_) => break,
                    }
                    n += 1;
                }
                SinkExt::<Bytes>::flush(&mut wr).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
        while let Some(Ok((mut m, _))) = rd.next().await {
            if m.to_user_id == KEEP_ALIVE {
                let _ = qtx.send(Arc::new(Encoded::new(frames::heartbeat_reply(
                    &uid, &m.id, m.seq,
                ))));
                continue;
            }
            m.status = MsgStatus::Sent as i32;
            m.access_token.clear();
            m.timestamp = 0;
            let group = m.chat_type == ChatType::Group as i32;
            let mut st = self.state.lock().unwrap();
            let conv = if group {
                m.to_user_id.clone()
            } else if m.from_user_id < m.to_user_id {
                format!("{}:{}", m.from_user_id, m.to_user_id)
            } else {
                format!("{}:{}", m.to_user_id, m.from_user_id)
            };
            let c = st.convs.entry(conv).or_insert(0);
            *c += 1;
            m.conv_seq = *c;
            let faulty =
                self.fault != Fault::None && self.forwarded.fetch_add(1, Relaxed) % 1000 == 999;
            if faulty && self.fault == Fault::Reorder && m.conv_seq > 1 {
                m.conv_seq -= 1;
            }
            let recipients: Vec<String> = if group {
                st.groups.get(&m.to_user_id).cloned().unwrap_or_default()
            } else {
                vec![m.to_user_id.clone(), uid.clone()]
            };
            let e = Arc::new(Encoded::new(m));
            for r in &recipients {
                if let Some(cs) = st.conns.get(r) {
                    for (id, q) in cs {
                        if *id != me {
                            if !(faulty && self.fault == Fault::Drop) {
                                let _ = q.send(e.clone());
                            }
                            if faulty && self.fault == Fault::Dup {
                                let _ = q.send(e.clone());
                            }
                        }
                    }
                }
            }
            drop(st);
            let _ = qtx.send(e); // the ack: the same frame, same seq
        }
        if let Some(v) = self.state.lock().unwrap().conns.get_mut(&uid) {
            v.retain(|(id, _)| *id != me);
        }
        drop(qtx);
        let _ = writer.await;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Message scenarios (direct, group)

/// Live counters for the progress line and the measurement window.
#[derive(Default)]
struct Live {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
}

/// What a receiving connection saw, per sender: the conv_seq of message n (0: not seen).
struct RecvLog {
    by_sender: HashMap<u32, Vec<u64>>,
    lat: Hist,
}

/// What a sending connection saw: the conv_seq of the ack of message n (0: not acked).
struct SendLog {
    acks: Vec<u64>,
    lat: Hist,
}

fn content_for(id: &str, t_us: u64, size: usize) -> String {
    let mut s = format!("{id}|{t_us}|");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Parses `"<sender>-<n>"`.
fn parse_id(id: &str) -> Option<(u32, usize)> {
    let (a, b) = id.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Send time (µs since start) from a content, if it is the one made for `id`.
fn parse_content(id: &str, content: &str, size: usize) -> Option<u64> {
    let rest = content.strip_prefix(id)?.strip_prefix('|')?;
    let (t, _) = rest.split_once('|')?;
    if content.len() != size.max(id.len() + t.len() + 2) {
        return None;
    }
    t.parse().ok()
}

struct Ctx {
    start: Instant,
    live: Live,
    problems: Problems,
    stop_send: CancellationToken,
    stop_recv: CancellationToken,
    size: usize,
}

/// One logged-in connection's read loop: acks of its own messages (if a sender), deliveries
/// from others, checked as they come.
async fn reader(
    ctx: Arc<Ctx>,
    me: String,
    mut rx: Rx,
    window: Option<Arc<Semaphore>>,
    own_sender: Option<u32>,
) -> (RecvLog, Option<SendLog>, bool) {
    let mut log = RecvLog {
        by_sender: HashMap::new(),
        lat: Hist::new(),
    };
    let mut send_log = own_sender.map(|_| SendLog {
        acks: Vec::new(),
        lat: Hist::new(),
    });
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut closed = false;
    loop {
        let m = tokio::select! {
            biased;
            _ = ctx.stop_recv.cancelled() => break,
            m = rx.next() => m,
        };
        if ctx.stop_recv.is_cancelled() {
            break;
        }
        let m = match m {
            None => {
                closed = true;
                ctx.problems
                    .error(format!("user {me}: connection closed by the server"));
                break;
            }
            Some(Err(e)) => {
                closed = true;
                ctx.problems.error(format!("user {me}: read: {e:#}"));
                break;
            }
            Some(Ok(m)) => m,
        };
        let now_us = ctx.start.elapsed().as_micros() as u64;
        if m.msg_type == MsgType::Notify as i32 {
            ctx.problems
                .error(format!("user {me}: NOTIFY {}", m.content));
            continue;
        }
        if m.msg_type == MsgType::Event as i32 {
            continue;
        }
        let Some((sender, n)) = parse_id(&m.id) else {
            ctx.problems
                .violation(format!("user {me}: frame with an unknown id {:?}", m.id));
            continue;
        };
        let t_sent = parse_content(&m.id, &m.content, ctx.size);
        if t_sent.is_none() {
            ctx.problems.violation(format!(
                "user {me}: message {} has a corrupted content",
                m.id
            ));
        }
        if m.conv_seq == 0 || m.status != MsgStatus::Sent as i32 {
            ctx.problems.violation(format!(
                "user {me}: message {} with conv_seq {} status {}",
                m.id, m.conv_seq, m.status
            ));
        }
        if m.from_user_id == me && Some(sender) == own_sender {
            // An ack of our own message.
            let sl = send_log.as_mut().unwrap();
            if sl.acks.len() <= n {
                sl.acks.resize(n + 1, 0);
            }
            if sl.acks[n] != 0 {
                ctx.problems
                    .violation(format!("user {me}: message {} acked twice", m.id));
                continue;
            }
            sl.acks[n] = m.conv_seq.max(1);
            if let Some(t) = t_sent {
                sl.lat.record(now_us.saturating_sub(t));
            }
            ctx.live.acked.fetch_add(1, Relaxed);
            if let Some(w) = &window {
                w.add_permits(1);
            }
            continue;
        }
        // A delivery.
        let conv = if m.chat_type == ChatType::Group as i32 {
            &m.to_user_id
        } else {
            &m.from_user_id
        };
        let last = last_seq.entry(conv.clone()).or_insert(0);
        if m.conv_seq <= *last {
            ctx.problems.violation(format!(
                "user {me}: conversation {conv}: conv_seq {} after {}",
                m.conv_seq, *last
            ));
        }
        *last = m.conv_seq;
        let v = log.by_sender.entry(sender).or_default();
        if v.len() <= n {
            v.resize(n + 1, 0);
        }
        if v[n] != 0 {
            ctx.problems
                .violation(format!("user {me}: message {} delivered twice", m.id));
            continue;
        }
        v[n] = m.conv_seq.max(1);
        if let Some(t) = t_sent {
            log.lat.record(now_us.saturating_sub(t));
        }
        ctx.live.delivered.fetch_add(1, Relaxed);
    }
    (log, send_log, closed)
}

/// A sender's write loop: keeps up to `window` messages in flight, paced to `rate` msgs/s.
#[allow(clippy::too_many_arguments)]
async fn writer(
    ctx: Arc<Ctx>,
    mut tx: Tx,
    me: String,
    to: String,
    chat: ChatType,
    sender_idx: u32,
    window: Arc<Semaphore>,
    rate: f64,
) -> (Tx, u64) {
    let mut n: u64 = 0;
    let t0 = Instant::now();
    let mut tmpl = Msg {
        from_user_id: me.clone(),
        to_user_id: to,
        chat_type: chat as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        ..Msg::default()
    };
    'outer: loop {
        let permit = tokio::select! {
            p = window.acquire() => p,
            _ = ctx.stop_send.cancelled() => break,
        };
        let Ok(p) = permit else { break };
        p.forget();
        let mut batch = 1;
        if rate > 0.0 {
            let due = (t0.elapsed().as_secs_f64() * rate) as u64;
            if n >= due {
                let wait = Duration::from_secs_f64((n + 1) as f64 / rate)
                    - t0.elapsed()
                        .min(Duration::from_secs_f64((n + 1) as f64 / rate));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {},
                    _ = ctx.stop_send.cancelled() => { window.add_permits(1); break 'outer; },
                }
            }
        }
        loop {
            let id = format!("{sender_idx}-{n}");
            let t_us = ctx.start.elapsed().as_micros() as u64;
            tmpl.content = content_for(&id, t_us, ctx.size);
            tmpl.id = id;
            tmpl.seq = n as u32;
            if let Err(e) = tx.feed(&tmpl).await {
                ctx.problems.error(format!("user {me}: write: {e:#}"));
                break 'outer;
            }
            n += 1;
            ctx.live.sent.fetch_add(1, Relaxed);
            if batch >= 64 {
                break;
            }
            if rate > 0.0 && n >= (t0.elapsed().as_secs_f64() * rate) as u64 {
                break;
            }
            match window.try_acquire() {
                Ok(p) => {
                    p.forget();
                    batch += 1;
                }
                Err(_) => break,
            }
        }
        if let Err(e) = tx.flush().await {
            ctx.problems.error(format!("user {me}: write: {e:#}"));
            break;
        }
    }
    (tx, n)
}

struct Conn {
    user: User,
    /// Index of this connection as a sender, and where it sends.
    sends: Option<(u32, String, ChatType)>,
    /// Sender indices whose messages this connection must receive.
    expects: Vec<u32>,
}

async fn run_messages(
    args: &Args,
    target: &Target,
    conns: Vec<Conn>,
    label: &str,
    server_pid: Option<u32>,
) -> Result<Report> {
    // Connect and log in everyone first.
    let sem = Arc::new(Semaphore::new(64));
    let mut handles = Vec::new();
    for c in &conns {
        let (t, u, sem) = (target.clone(), c.user.clone(), sem.clone());
        handles.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            connect_login(&t, &u.id, &u.token).await
        }));
    }
    let mut halves = Vec::new();
    for h in handles {
        halves.push(h.await?.context("connect and login")?);
    }
    eprintln!("[{label}] {} connections logged in", halves.len());
    let n_senders = conns.iter().filter(|c| c.sends.is_some()).count().max(1);
    let per_sender_rate = args.rate / n_senders as f64;
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    let mut windows = Vec::new();
    let ctx = Arc::new(Ctx {
        start: Instant::now(),
        live: Live::default(),
        problems: Problems::default(),
        stop_send: CancellationToken::new(),
        stop_recv: CancellationToken::new(),
        size: args.size,
    });
    let cpu = CpuWindow::start(server_pid);
    for (c, (tx, rx)) in conns.iter().zip(halves) {
        let w = c
            .sends
            .as_ref()
            .map(|_| Arc::new(Semaphore::new(args.window)));
        readers.push(tokio::spawn(reader(
            ctx.clone(),
            c.user.id.clone(),
            rx,
            w.clone(),
            c.sends.as_ref().map(|s| s.0),
        )));
        if let (Some((idx, to, chat)), Some(w)) = (&c.sends, w) {
            windows.push(w.clone());
            writers.push(tokio::spawn(writer(
                ctx.clone(),
                tx,
                c.user.id.clone(),
                to.clone(),
                *chat,
                *idx,
                w,
                per_sender_rate,
            )));
        } else {
            writers.push(tokio::spawn(async move { (tx, 0) }));
        }
    }
    let progress = spawn_progress(ctx.clone(), label.to_string());
    let d = Duration::from_secs_f64(args.duration);
    tokio::time::sleep(d).await;
    let (a1, d1) = (
        ctx.live.acked.load(Relaxed),
        ctx.live.delivered.load(Relaxed),
    );
    let window_secs = ctx.start.elapsed().as_secs_f64();
    let mut r = Report::default();
    cpu.finish(&mut r);
    ctx.stop_send.cancel();
    let mut txs = Vec::new();
    let mut total_sent = 0;
    for w in writers {
        let (tx, n) = w.await?;
        total_sent += n;
        txs.push(tx);
    }
    // Drain: wait for every ack, then for the deliveries of every acked message.
    let fanout: HashMap<u32, u64> = {
        let mut f = HashMap::new();
        for c in &conns {
            for s in &c.expects {
                *f.entry(*s).or_insert(0) += 1;
            }
        }
        f
    };
    let avg_fanout = fanout.values().sum::<u64>() as f64 / n_senders as f64;
    let drain_until = Instant::now() + Duration::from_secs_f64(args.drain);
    let mut last = (0, 0);
    let mut stable_since = Instant::now();
    while Instant::now() < drain_until {
        let acked = ctx.live.acked.load(Relaxed);
        let delivered = ctx.live.delivered.load(Relaxed);
        if acked == total_sent && delivered as f64 >= acked as f64 * avg_fanout {
            break;
        }
        if (acked, delivered) != last {
            last = (acked, delivered);
            stable_since = Instant::now();
        } else if stable_since.elapsed() > Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.stop_recv.cancel();
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let mut recv_logs = Vec::new();
    let mut send_logs: HashMap<u32, SendLog> = HashMap::new();
    let mut closed_conns = 0;
    let mut ack_lat = Hist::new();
    let mut lat = Hist::new();
    for (c, h) in conns.iter().zip(readers) {
        let (rl, sl, closed) = h.await?;
        if closed {
            closed_conns += 1;
        }
        lat.merge(&rl.lat);
        if let (Some(sl), Some((idx, _, _))) = (sl, &c.sends) {
            ack_lat.merge(&sl.lat);
            send_logs.insert(*idx, sl);
        }
        recv_logs.push((rl, closed));
    }
    drop(txs);
    // The check: every acked message delivered exactly once to each expected connection with
    // the acked conv_seq; nothing delivered that was not acked, nor to whom it was not for.
    let mut acked_total = 0u64;
    for sl in send_logs.values() {
        acked_total += sl.acks.iter().filter(|&&a| a != 0).count() as u64;
    }
    let (mut missing, mut mismatched, mut unacked, mut stray) = (0u64, 0u64, 0u64, 0u64);
    let mut first_missing = None;
    for (c, (rl, closed)) in conns.iter().zip(&recv_logs) {
        for (s, v) in &rl.by_sender {
            if !c.expects.contains(s) {
                stray += v.iter().filter(|&&x| x != 0).count() as u64;
            }
        }
        for s in &c.expects {
            let acks = send_logs.get(s).map(|l| &l.acks[..]).unwrap_or(&[]);
            let got = rl.by_sender.get(s).map(|v| &v[..]).unwrap_or(&[]);
            for n in 0..acks.len().max(got.len()) {
                let a = acks.get(n).copied().unwrap_or(0);
                let g = got.get(n).copied().unwrap_or(0);
                match (a, g) {
                    (0, 0) => {}
                    (_, 0) if *closed => {} // stays pending for the next login
                    (_, 0) => {
                        missing += 1;
                        first_missing.get_or_insert(format!("{s}-{n} to user {}", c.user.id));
                    }
                    (0, _) => unacked += 1,
                    (a, g) if a != g => mismatched += 1,
                    _ => {}
                }
            }
        }
    }
    let p = &ctx.problems;
    p.violations_n(
        missing,
        format!(
            "{missing} acked deliveries never arrived (first: {})",
            first_missing.unwrap_or_default()
        ),
    );
    p.violations_n(
        mismatched,
        format!("{mismatched} deliveries with a conv_seq other than their ack's"),
    );
    p.violations_n(
        unacked,
        format!("{unacked} deliveries of messages never acked"),
    );
    p.violations_n(
        stray,
        format!("{stray} deliveries to a connection they were not for"),
    );
    if closed_conns > 0 {
        p.error(format!(
            "{closed_conns} connections closed during the run (their missing deliveries are not counted)"
        ));
    }
    r.put("connections", conns.len() as f64);
    r.put("senders", n_senders as f64);
    r.put("fanout", avg_fanout);
    r.put("window_s", window_secs);
    r.put("sent", total_sent as f64);
    r.put("acked", acked_total as f64);
    r.put(
        "delivered",
        recv_logs
            .iter()
            .map(|(l, _)| l.by_sender.values().flatten().filter(|&&x| x != 0).count() as u64)
            .sum::<u64>() as f64,
    );
    r.put("acked_per_s", a1 as f64 / window_secs);
    r.put("delivered_per_s", d1 as f64 / window_secs);
    r.put("ack_p50_ms", ack_lat.q_ms(0.5));
    r.put("ack_p99_ms", ack_lat.q_ms(0.99));
    r.put("latency_p50_ms", lat.q_ms(0.5));
    r.put("latency_p99_ms", lat.q_ms(0.99));
    r.put("latency_p999_ms", lat.q_ms(0.999));
    r.put("latency_max_ms", lat.q_ms(1.0));
    p.fill(&mut r);
    Ok(r)
}

fn spawn_progress(ctx: Arc<Ctx>, label: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let mut t = tokio::time::interval(Duration::from_millis(250));
        loop {
            t.tick().await;
            let s = ctx.start.elapsed().as_secs_f64();
            eprint!(
                "\r[{label}] {s:5.1} s  sent {}  acked {}  delivered {}  errors {}  violations {}   ",
                ctx.live.sent.load(Relaxed),
                ctx.live.acked.load(Relaxed),
                ctx.live.delivered.load(Relaxed),
                ctx.problems.errors.load(Relaxed),
                ctx.problems.violations.load(Relaxed),
            );
        }
    })
}

async fn scenario_direct(args: &Args, seeder: &impl Seeder) -> Result<Vec<Conn>> {
    let users = seeder.users(args.pairs * 2).await?;
    let mut conns = Vec::new();
    for i in 0..args.pairs {
        let (s, r) = (users[2 * i].clone(), users[2 * i + 1].clone());
        conns.push(Conn {
            sends: Some((i as u32, r.id.clone(), ChatType::Single)),
            user: s,
            expects: vec![],
        });
        conns.push(Conn {
            user: r,
            sends: None,
            expects: vec![i as u32],
        });
    }
    Ok(conns)
}

async fn scenario_group(args: &Args, seeder: &impl Seeder) -> Result<Vec<Conn>> {
    let users = seeder.users(args.groups * args.members).await?;
    let mut conns = Vec::new();
    let mut next_sender = 0u32;
    for g in 0..args.groups {
        let members = &users[g * args.members..(g + 1) * args.members];
        let gid = seeder.group(members).await?;
        let senders: Vec<u32> = (0..args.senders.min(members.len()))
            .map(|k| next_sender + k as u32)
            .collect();
        next_sender += senders.len() as u32;
        for (k, u) in members.iter().enumerate() {
            let me = senders.get(k).copied();
            conns.push(Conn {
                user: u.clone(),
                sends: me.map(|s| (s, gid.clone(), ChatType::Group)),
                expects: senders.iter().copied().filter(|s| Some(*s) != me).collect(),
            });
        }
    }
    Ok(conns)
}

// ---------------------------------------------------------------------------------------------
// idle and login

async fn run_idle(
    args: &Args,
    target: &Target,
    seeder: &impl Seeder,
    server_pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    let users = seeder.users(args.users.max(1)).await?;
    let problems = Arc::new(Problems::default());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = server_pid.and_then(rss_kib);
    let started = Instant::now();
    let stop = CancellationToken::new();
    let up = Arc::new(AtomicU64::new(0));
    let heartbeats = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(Semaphore::new(128));
    let mut handles = Vec::new();
    let show = std::io::stderr().is_terminal();
    let mut rss_mid = None;
    for i in 0..args.conns {
        if i == args.conns / 2 && server_pid.is_some() {
            // Half-way mark: the second half's growth is the marginal cost of a connection,
            // free of whatever the allocator kept from earlier work (password hashing).
            while (up.load(Relaxed) + problems.errors.load(Relaxed)) < i as u64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss_mid = server_pid.and_then(rss_kib).map(|r| (r, up.load(Relaxed)));
        }
        let u = users[i % users.len()].clone();
        let (t, sem, stop, up, hb, pr) = (
            target.clone(),
            sem.clone(),
            stop.clone(),
            up.clone(),
            heartbeats.clone(),
            problems.clone(),
        );
        let period = Duration::from_secs_f64(args.heartbeat);
        handles.push(tokio::spawn(async move {
            let p = sem.acquire().await;
            let (mut tx, mut rx) = match connect_login(&t, &u.id, &u.token).await {
                Ok(x) => x,
                Err(e) => {
                    pr.error(format!("connection {i}: {e:#}"));
                    return;
                }
            };
            drop(p);
            let n = up.fetch_add(1, Relaxed) + 1;
            if show && n % 500 == 0 {
                eprint!("\r[idle] {n} connections up   ");
            }
            // Spread the heartbeats over the period.
            let first = period.mul_f64((i % 1000) as f64 / 1000.0);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
            let hb_frame = Msg {
                msg_type: MsgType::Event as i32,
                to_user_id: KEEP_ALIVE.into(),
                from_user_id: u.id.clone(),
                ..Msg::default()
            };
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = tx.send(&hb_frame).await {
                            pr.error(format!("connection {i}: heartbeat: {e:#}"));
                            break;
                        }
                    }
                    m = rx.next() => match m {
                        Some(Ok(m)) if is_keepalive_success(&m) => { hb.fetch_add(1, Relaxed); }
                        Some(Ok(m)) if m.msg_type == MsgType::Notify as i32 => {
                            pr.error(format!("connection {i}: NOTIFY {}", m.content));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => { pr.error(format!("connection {i}: {e:#}")); break; }
                        None => { pr.error(format!("connection {i}: closed by the server")); break; }
                    }
                }
            }
        }));
    }
    while (up.load(Relaxed) + problems.errors.load(Relaxed)) < args.conns as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp = started.elapsed().as_secs_f64();
    if show {
        eprintln!();
    }
    eprintln!(
        "[{label}] {} connections up in {ramp:.1} s; holding {} s",
        up.load(Relaxed),
        args.duration
    );
    let cpu = CpuWindow::start(server_pid);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let rss1 = server_pid.and_then(rss_kib);
    let mut r = Report::default();
    cpu.finish(&mut r);
    stop.cancel();
    for h in handles {
        let _ = h.await;
    }
    let n = up.load(Relaxed);
    r.put("connections", n as f64);
    r.put("connect_login_per_s", n as f64 / ramp);
    r.put("heartbeat_replies", heartbeats.load(Relaxed) as f64);
    if let (Some((m, k)), Some(b)) = (rss_mid, rss1) {
        r.put("server_rss_mid_kib", m as f64);
        r.put(
            "server_rss_per_conn_2nd_half_kib",
            (b as f64 - m as f64) / (n - k).max(1) as f64,
        );
    }
    if let (Some(a), Some(b)) = (rss0, rss1) {
        r.put("server_rss_before_kib", a as f64);
        r.put("server_rss_after_kib", b as f64);
        r.put(
            "server_rss_per_conn_kib",
            (b as f64 - a as f64) / n.max(1) as f64,
        );
    }
    problems.fill(&mut r);
    Ok(r)
}

async fn run_login(
    args: &Args,
    target: &Target,
    seeder: &impl Seeder,
    server_pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    let users = Arc::new(seeder.users(args.users.max(1)).await?);
    let problems = Arc::new(Problems::default());
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu = CpuWindow::start(server_pid);
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..args.workers.max(1) {
        let (t, users, pr, done, stop) = (
            target.clone(),
            users.clone(),
            problems.clone(),
            done.clone(),
            stop.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut h = Hist::new();
            let mut k = w;
            while !stop.load(Relaxed) {
                let u = &users[k % users.len()];
                k += 1;
                let t0 = Instant::now();
                match connect_login(&t, &u.id, &u.token).await {
                    Ok((tx, rx)) => {
                        h.record(t0.elapsed().as_micros() as u64);
                        done.fetch_add(1, Relaxed);
                        drop((tx, rx));
                    }
                    Err(e) => {
                        pr.error(format!("login: {e:#}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            h
        }));
    }
    let show = std::io::stderr().is_terminal();
    let end = started + Duration::from_secs_f64(args.duration);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if show {
            eprint!(
                "\r[{label}] {:5.1} s  logins {}  errors {}   ",
                started.elapsed().as_secs_f64(),
                done.load(Relaxed),
                problems.errors.load(Relaxed)
            );
        }
    }
    let n = done.load(Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let mut r = Report::default();
    cpu.finish(&mut r);
    stop.store(true, Relaxed);
    let mut h = Hist::new();
    for t in handles {
        h.merge(&t.await?);
    }
    if show {
        eprintln!();
    }
    r.put("workers", args.workers as f64);
    r.put("logins", n as f64);
    r.put("logins_per_s", n as f64 / secs);
    r.put("login_p50_ms", h.q_ms(0.5));
    r.put("login_p99_ms", h.q_ms(0.99));
    problems.fill(&mut r);
    Ok(r)
}

// ---------------------------------------------------------------------------------------------

async fn run_one(
    args: &Args,
    target: Target,
    seeder: &impl Seeder,
    pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    match args.scenario {
        Scenario::Direct => {
            let conns = scenario_direct(args, seeder).await?;
            run_messages(args, &target, conns, label, pid).await
        }
        Scenario::Group => {
            let conns = scenario_group(args, seeder).await?;
            run_messages(args, &target, conns, label, pid).await
        }
        Scenario::Idle => run_idle(args, &target, seeder, pid, label).await,
        Scenario::Login => run_login(args, &target, seeder, pid, label).await,
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn print_table(args: &Args, runs: &[(&str, &Report)]) {
    println!(
        "scenario {:?}, transport {:?}, duration {} s",
        args.scenario, args.transport, args.duration
    );
    let mut header = format!("{:<34}", "metric");
    for (name, _) in runs {
        header += &format!("{name:>14}");
    }
    if runs.len() == 2 {
        header += &format!("{:>10}", "ratio");
    }
    println!("{header}");
    let mut names: Vec<String> = Vec::new();
    for (_, r) in runs {
        for (k, _) in &r.metrics {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    for k in names {
        let mut line = format!("{k:<34}");
        let vals: Vec<Option<f64>> = runs.iter().map(|(_, r)| r.get(&k)).collect();
        for v in &vals {
            line += &format!("{:>14}", v.map(fmt).unwrap_or_else(|| "-".into()));
        }
        if let [Some(a), Some(b)] = vals[..] {
            if b != 0.0 && a.is_finite() && b.is_finite() {
                line += &format!("{:>10}", format!("{:.2}", a / b));
            }
        }
        println!("{line}");
    }
    for (name, r) in runs {
        println!("{name}: errors {}, violations {}", r.errors, r.violations);
        for s in &r.error_samples {
            println!("  error: {s}");
        }
        for s in &r.violation_samples {
            println!("  VIOLATION: {s}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if !args.server && !args.baseline {
        args.server = true;
    }
    if args.baseline && args.transport == Transport::Ws {
        bail!("the baseline forwarder speaks framed TCP only (--transport pb or json)");
    }
    let fds_needed = match args.scenario {
        Scenario::Direct => args.pairs * 2,
        Scenario::Group => args.groups * args.members,
        Scenario::Idle => args.conns,
        Scenario::Login => args.workers,
    } * if args.baseline { 2 } else { 1 }
        + 64;
    if let Some((soft, hard)) = open_files_limit() {
        if fds_needed as u64 > soft {
            eprintln!(
                "warning: this run needs about {fds_needed} file descriptors but `ulimit -n` is {soft} (hard {hard})"
            );
        }
    }
    let tag = format!(
        "{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            % 100_000_000
    );
    let mut runs: Vec<(&str, Report)> = Vec::new();
    if args.server {
        let seeder = ApiSeeder {
            api: args.api,
            concurrency: args.seed_concurrency,
            tag: tag.clone(),
        };
        let t = Target {
            ims: std::iter::once(args.im)
                .chain(args.nodes.iter().copied())
                .collect(),
            transport: args.transport,
        };
        let r = run_one(&args, t, &seeder, args.server_pid, "server").await?;
        runs.push(("server", r));
    }
    if args.baseline {
        let (fwd, addr) = Forwarder::start(args.fault).await?;
        let seeder = BaselineSeeder {
            fwd,
            next: AtomicU64::new(0),
        };
        let t = Target {
            ims: Arc::from([addr]),
            transport: args.transport,
        };
        let pid = Some(std::process::id());
        let mut r = run_one(&args, t, &seeder, pid, "baseline").await?;
        // In-process: the "server" CPU is this whole process, generator included.
        r.metrics
            .retain(|(k, _)| k != "server_cpu_pct" && !k.starts_with("server_rss"));
        runs.push(("baseline", r));
    }
    let bad = runs.iter().any(|(_, r)| r.errors > 0 || r.violations > 0);
    if args.json {
        let mut o = serde_json::Map::new();
        o.insert(
            "scenario".into(),
            json!(format!("{:?}", args.scenario).to_lowercase()),
        );
        o.insert(
            "transport".into(),
            json!(format!("{:?}", args.transport).to_lowercase()),
        );
        o.insert("duration_s".into(), json!(args.duration));
        for (n, r) in &runs {
            o.insert((*n).into(), r.to_json());
        }
        if let [(_, a), (_, b)] = &runs[..] {
            let mut ratios = serde_json::Map::new();
            for (k, v) in &a.metrics {
                if let Some(bv) = b.get(k) {
                    if bv != 0.0 && v.is_finite() && bv.is_finite() {
                        ratios.insert(k.clone(), json!(v / bv));
                    }
                }
            }
            o.insert("ratio".into(), Value::Object(ratios));
        }
        println!("{}", Value::Object(o));
    } else {
        let refs: Vec<(&str, &Report)> = runs.iter().map(|(n, r)| (*n, r)).collect();
        print_table(&args, &refs);
    }
    if bad {
        std::process::exit(1);
    }
    Ok(())
}
