//! The message scenarios' run (direct and group build the connections, this drives them):
//! log everyone in, send for `--duration`, drain, check, report.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use easyim_proto::ChatType;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::Args;
use crate::checker::{self, Received, SendLog};
use crate::hist::Hist;
use crate::problems::Problems;
use crate::procfs::CpuWindow;
use crate::receiver::{self, ReadEnd, ReadSpec};
use crate::report::Report;
use crate::seed::User;
use crate::sender::{self, SendSpec};
use crate::transport::{connect_login, Rx, Target, Tx};

/// Logins in progress at a time.
const LOGIN_CONCURRENCY: usize = 64;

/// Live counters for the progress line and the measurement window.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) delivered: AtomicU64,
}

/// What every loop of a run shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) start: Instant,
    pub(crate) live: Live,
    pub(crate) problems: Problems,
    /// Cancelled when the load stops (the drain begins).
    pub(crate) stop_send: CancellationToken,
    /// Cancelled when the drain ends.
    pub(crate) stop_recv: CancellationToken,
    /// Content bytes per message.
    pub(crate) size: usize,
}

/// One connection of a message scenario.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) user: User,
    /// Index of this connection as a sender, and where it sends.
    pub(crate) sends: Option<(u32, String, ChatType)>,
    /// Sender indices whose messages this connection must receive.
    pub(crate) expects: Vec<u32>,
}

/// The loops of a running scenario.
#[derive(Debug)]
struct Loops {
    readers: Vec<JoinHandle<ReadEnd>>,
    writers: Vec<JoinHandle<(Tx, u64)>>,
}

/// Connects and logs in every connection, `LOGIN_CONCURRENCY` at a time.
async fn connect_all(target: &Target, conns: &[Conn]) -> Result<Vec<(Tx, Rx)>> {
    let sem = Arc::new(Semaphore::new(LOGIN_CONCURRENCY));
    let mut handles = Vec::new();
    for c in conns {
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
    Ok(halves)
}

/// Which connections read slowly: `--slow-fraction` of those that only receive, spread
/// evenly (senders read at full speed, so that acks keep their meaning).
fn slow_readers(args: &Args, conns: &[Conn]) -> Vec<bool> {
    let f = args.slow_fraction.clamp(0.0, 1.0);
    let mut k = 0.0;
    conns
        .iter()
        .map(|c| {
            if args.read_delay_us == 0 || c.sends.is_some() {
                return false;
            }
            k += 1.0;
            ((k * f).floor() - ((k - 1.0) * f).floor()) >= 1.0
        })
        .collect()
}

/// Starts a read loop per connection and a write loop per sender.
fn start_loops(args: &Args, ctx: &Arc<Ctx>, conns: &[Conn], halves: Vec<(Tx, Rx)>) -> Loops {
    let n_senders = conns.iter().filter(|c| c.sends.is_some()).count().max(1);
    let per_sender_rate = args.rate / n_senders as f64;
    let delay = Duration::from_micros(args.read_delay_us);
    let slow = slow_readers(args, conns);
    let mut loops = Loops {
        readers: Vec::new(),
        writers: Vec::new(),
    };
    for ((c, (tx, rx)), slow) in conns.iter().zip(halves).zip(slow) {
        let w = c
            .sends
            .as_ref()
            .map(|(idx, ..)| (*idx, Arc::new(Semaphore::new(args.window))));
        let spec = ReadSpec {
            me: c.user.id.clone(),
            sends: w.clone(),
            delay: slow.then_some(delay),
        };
        loops
            .readers
            .push(tokio::spawn(receiver::read_loop(ctx.clone(), spec, rx)));
        let writer = match (&c.sends, w) {
            (Some((idx, to, chat)), Some((_, window))) => {
                let spec = SendSpec {
                    me: c.user.id.clone(),
                    to: to.clone(),
                    chat: *chat,
                    idx: *idx,
                    window,
                    rate: per_sender_rate,
                };
                tokio::spawn(sender::write_loop(ctx.clone(), tx, spec))
            }
            _ => tokio::spawn(async move { (tx, 0) }),
        };
        loops.writers.push(writer);
    }
    loops
}

/// Waits for every ack, then for the deliveries of every acked message, at most `secs`;
/// gives up earlier once nothing arrived for 2 s (a closed connection's never come). Warns
/// when time ran out while frames were still arriving: what is missing then may only be late
/// (a generator that fell behind), not lost.
async fn drain(ctx: &Ctx, label: &str, total_sent: u64, avg_fanout: f64, secs: f64) {
    let drain_until = Instant::now() + Duration::from_secs_f64(secs);
    let mut last = (0, 0);
    let mut stable_since = Instant::now();
    loop {
        let acked = ctx.live.acked.load(Relaxed);
        let delivered = ctx.live.delivered.load(Relaxed);
        if acked == total_sent && delivered as f64 >= acked as f64 * avg_fanout {
            return;
        }
        if (acked, delivered) != last {
            last = (acked, delivered);
            stable_since = Instant::now();
        } else if stable_since.elapsed() > Duration::from_secs(2) {
            return;
        }
        if Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "[{label}] warning: acks or deliveries still arriving after the {secs} s drain: \
         missing ones may only be late (raise --drain)"
    );
}

/// Runs a message scenario over `conns` and reports what it measured and found.
pub(crate) async fn run_messages(
    args: &Args,
    target: &Target,
    conns: Vec<Conn>,
    label: &str,
    server_pid: Option<u32>,
) -> Result<Report> {
    let halves = connect_all(target, &conns).await?;
    eprintln!("[{label}] {} connections logged in", halves.len());
    let ctx = Arc::new(Ctx {
        start: Instant::now(),
        live: Live::default(),
        problems: Problems::default(),
        stop_send: CancellationToken::new(),
        stop_recv: CancellationToken::new(),
        size: args.size,
    });
    let cpu = CpuWindow::start_all(server_pid.into_iter().chain(args.node_pids.iter().copied()));
    let loops = start_loops(args, &ctx, &conns, halves);
    let progress = spawn_progress(ctx.clone(), label.to_string());
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
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
    for w in loops.writers {
        let (tx, n) = w.await?;
        total_sent += n;
        txs.push(tx);
    }
    let n_senders = conns.iter().filter(|c| c.sends.is_some()).count().max(1);
    let fanout: u64 = conns.iter().map(|c| c.expects.len() as u64).sum();
    let avg_fanout = fanout as f64 / n_senders as f64;
    drain(&ctx, label, total_sent, avg_fanout, args.drain).await;
    ctx.stop_recv.cancel();
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let mut ends = Vec::new();
    for h in loops.readers {
        ends.push(h.await?);
    }
    drop(txs);
    r.put("connections", conns.len() as f64);
    r.put("senders", n_senders as f64);
    r.put("fanout", avg_fanout);
    r.put("window_s", window_secs);
    r.put("sent", total_sent as f64);
    let checked = check(args, &ctx, &conns, ends);
    r.put("acked", checked.acked as f64);
    r.put("delivered", checked.delivered as f64);
    r.put("acked_per_s", a1 as f64 / window_secs);
    r.put("delivered_per_s", d1 as f64 / window_secs);
    for (k, v) in checked.figures {
        r.put(k, v);
    }
    ctx.problems.fill(&mut r);
    Ok(r)
}

/// What the final checks found, for the report.
#[derive(Debug)]
struct Checked {
    acked: u64,
    delivered: u64,
    /// Latencies, then slow readers, disconnects and missing deliveries.
    figures: Vec<(&'static str, f64)>,
}

/// The final checks over what every connection saw.
fn check(args: &Args, ctx: &Ctx, conns: &[Conn], ends: Vec<ReadEnd>) -> Checked {
    let slow = slow_readers(args, conns);
    let mut send_logs: HashMap<u32, SendLog> = HashMap::new();
    let mut ack_lat = Hist::new();
    let mut lat = Hist::new();
    let (mut disconnects, mut unexpected) = (0u64, 0u64);
    let mut logs = Vec::new();
    for ((c, end), slow) in conns.iter().zip(ends).zip(&slow) {
        if end.closed {
            disconnects += 1;
            if !slow {
                unexpected += 1;
            }
        }
        lat.merge(&end.check.log.lat);
        if let (Some(sl), Some((idx, _, _))) = (end.check.send_log, &c.sends) {
            ack_lat.merge(&sl.lat);
            send_logs.insert(*idx, sl);
        }
        logs.push((end.check.log, end.closed));
    }
    let received: Vec<Received<'_>> = conns
        .iter()
        .zip(&logs)
        .map(|(c, (log, closed))| Received {
            user: &c.user.id,
            expects: &c.expects,
            log,
            closed: *closed,
        })
        .collect();
    let t = checker::tally(&received, &send_logs, &ctx.problems);
    if unexpected > 0 {
        ctx.problems.error(format!(
            "{unexpected} connections closed during the run (their missing deliveries are not counted)"
        ));
    }
    let delivered: u64 = logs
        .iter()
        .map(|(l, _)| l.by_sender.values().flatten().filter(|&&x| x != 0).count() as u64)
        .sum();
    let figures = vec![
        ("ack_p50_ms", ack_lat.q_ms(0.5)),
        ("ack_p99_ms", ack_lat.q_ms(0.99)),
        ("latency_p50_ms", lat.q_ms(0.5)),
        ("latency_p99_ms", lat.q_ms(0.99)),
        ("latency_p999_ms", lat.q_ms(0.999)),
        ("latency_max_ms", lat.q_ms(1.0)),
        ("slow_receivers", slow.iter().filter(|&&s| s).count() as f64),
        ("disconnects", disconnects as f64),
        ("missing", t.missing as f64),
        ("missing_disconnected", t.missing_disconnected as f64),
    ];
    Checked {
        acked: t.acked,
        delivered,
        figures,
    }
}

/// Prints a progress line every 250 ms when stderr is a terminal.
fn spawn_progress(ctx: Arc<Ctx>, label: String) -> JoinHandle<()> {
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
