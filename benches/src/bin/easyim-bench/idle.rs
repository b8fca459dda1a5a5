//! The idle scenario: `--conns` logged-in connections that only send heartbeats, and the
//! server's memory per connection.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use easyim_proto::{Msg, MsgType, KEEP_ALIVE};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::args::Args;
use crate::problems::Problems;
use crate::procfs::{rss_kib, CpuWindow};
use crate::report::Report;
use crate::seed::{Seeder, User};
use crate::transport::{connect_login, is_keepalive_success, Target};

/// Logins in progress at a time during the ramp.
const LOGIN_CONCURRENCY: usize = 128;

/// What the connections of a run share.
#[derive(Debug)]
struct Shared {
    target: Target,
    sem: Semaphore,
    stop: CancellationToken,
    /// Connections logged in.
    up: AtomicU64,
    /// SUCCESS answers to heartbeats.
    heartbeats: AtomicU64,
    problems: Problems,
    period: Duration,
    /// Whether to print the ramp's progress.
    show: bool,
}

impl Shared {
    /// Connections that are up or failed.
    fn settled(&self) -> u64 {
        self.up.load(Relaxed) + self.problems.errors.load(Relaxed)
    }
}

/// Connection `i`: logs in as `u`, then heartbeats every period until the run stops.
async fn hold(sh: Arc<Shared>, i: usize, u: User) {
    let p = sh.sem.acquire().await;
    let (mut tx, mut rx) = match connect_login(&sh.target, &u.id, &u.token).await {
        Ok(x) => x,
        Err(e) => {
            sh.problems.error(format!("connection {i}: {e:#}"));
            return;
        }
    };
    drop(p);
    let n = sh.up.fetch_add(1, Relaxed) + 1;
    if sh.show && n % 500 == 0 {
        eprint!("\r[idle] {n} connections up   ");
    }
    // Spread the heartbeats over the period.
    let first = sh.period.mul_f64((i % 1000) as f64 / 1000.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, sh.period);
    let hb_frame = Msg {
        msg_type: MsgType::Event as i32,
        to_user_id: KEEP_ALIVE.into(),
        from_user_id: u.id.clone(),
        ..Msg::default()
    };
    let pr = &sh.problems;
    loop {
        tokio::select! {
            _ = sh.stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = tx.send(&hb_frame).await {
                    pr.error(format!("connection {i}: heartbeat: {e:#}"));
                    break;
                }
            }
            m = rx.next() => match m {
                Some(Ok(m)) if is_keepalive_success(&m) => { sh.heartbeats.fetch_add(1, Relaxed); }
                Some(Ok(m)) if m.msg_type == MsgType::Notify as i32 => {
                    pr.error(format!("connection {i}: NOTIFY {}", m.content));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => { pr.error(format!("connection {i}: {e:#}")); break; }
                None => { pr.error(format!("connection {i}: closed by the server")); break; }
            }
        }
    }
}

/// Opens the connections (the ramp); returns their tasks and the RSS half-way with the
/// connections up then.
async fn ramp(
    args: &Args,
    sh: &Arc<Shared>,
    users: &[User],
    server_pid: Option<u32>,
) -> (Vec<tokio::task::JoinHandle<()>>, Option<(u64, u64)>) {
    let mut handles = Vec::new();
    let mut rss_mid = None;
    for i in 0..args.conns {
        if i == args.conns / 2 && server_pid.is_some() {
            // Half-way mark: the second half's growth is the marginal cost of a connection,
            // free of whatever the allocator kept from earlier work (password hashing).
            while sh.settled() < i as u64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss_mid = server_pid
                .and_then(rss_kib)
                .map(|r| (r, sh.up.load(Relaxed)));
        }
        let u = users[i % users.len()].clone();
        handles.push(tokio::spawn(hold(sh.clone(), i, u)));
    }
    while sh.settled() < args.conns as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (handles, rss_mid)
}

/// Runs the idle scenario: ramp, hold for `--duration`, report RSS before, half-way, after.
pub(crate) async fn run(
    args: &Args,
    target: &Target,
    seeder: &impl Seeder,
    server_pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    let users = seeder.users(args.users.max(1)).await?;
    let sh = Arc::new(Shared {
        target: target.clone(),
        sem: Semaphore::new(LOGIN_CONCURRENCY),
        stop: CancellationToken::new(),
        up: AtomicU64::new(0),
        heartbeats: AtomicU64::new(0),
        problems: Problems::default(),
        period: Duration::from_secs_f64(args.heartbeat),
        show: std::io::stderr().is_terminal(),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = server_pid.and_then(rss_kib);
    let started = Instant::now();
    let (handles, rss_mid) = ramp(args, &sh, &users, server_pid).await;
    let ramp_s = started.elapsed().as_secs_f64();
    if sh.show {
        eprintln!();
    }
    eprintln!(
        "[{label}] {} connections up in {ramp_s:.1} s; holding {} s",
        sh.up.load(Relaxed),
        args.duration
    );
    let cpu = CpuWindow::start(server_pid);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let rss1 = server_pid.and_then(rss_kib);
    let mut r = Report::default();
    cpu.finish(&mut r);
    sh.stop.cancel();
    for h in handles {
        let _ = h.await;
    }
    let n = sh.up.load(Relaxed);
    r.put("connections", n as f64);
    r.put("connect_login_per_s", n as f64 / ramp_s);
    r.put("heartbeat_replies", sh.heartbeats.load(Relaxed) as f64);
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
    sh.problems.fill(&mut r);
    Ok(r)
}
