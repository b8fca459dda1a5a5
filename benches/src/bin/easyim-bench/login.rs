//! The login scenario: `--workers` loops of connect, log in, close.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::args::Args;
use crate::hist::Hist;
use crate::problems::Problems;
use crate::procfs::CpuWindow;
use crate::report::Report;
use crate::seed::{Seeder, User};
use crate::transport::{connect_login, Target};

/// What the workers share.
#[derive(Debug)]
struct Shared {
    target: Target,
    users: Vec<User>,
    problems: Problems,
    /// Logins done.
    done: AtomicU64,
    stop: AtomicBool,
}

/// Worker `w`: logs in as the next user, closes, again, until stopped; the latencies.
async fn work(sh: Arc<Shared>, w: usize) -> Hist {
    let mut h = Hist::new();
    let mut k = w;
    while !sh.stop.load(Relaxed) {
        let u = &sh.users[k % sh.users.len()];
        k += 1;
        let t0 = Instant::now();
        match connect_login(&sh.target, &u.id, &u.token).await {
            Ok((tx, rx)) => {
                h.record(t0.elapsed().as_micros() as u64);
                sh.done.fetch_add(1, Relaxed);
                drop((tx, rx));
            }
            Err(e) => {
                sh.problems.error(format!("login: {e:#}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    h
}

/// Runs the login scenario for `--duration` and reports logins/s and their latency.
pub(crate) async fn run(
    args: &Args,
    target: &Target,
    seeder: &impl Seeder,
    server_pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    let sh = Arc::new(Shared {
        target: target.clone(),
        users: seeder.users(args.users.max(1)).await?,
        problems: Problems::default(),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let cpu = CpuWindow::start(server_pid);
    let started = Instant::now();
    let handles: Vec<_> = (0..args.workers.max(1))
        .map(|w| tokio::spawn(work(sh.clone(), w)))
        .collect();
    let show = std::io::stderr().is_terminal();
    let end = started + Duration::from_secs_f64(args.duration);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if show {
            eprint!(
                "\r[{label}] {:5.1} s  logins {}  errors {}   ",
                started.elapsed().as_secs_f64(),
                sh.done.load(Relaxed),
                sh.problems.errors.load(Relaxed)
            );
        }
    }
    let n = sh.done.load(Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let mut r = Report::default();
    cpu.finish(&mut r);
    sh.stop.store(true, Relaxed);
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
    sh.problems.fill(&mut r);
    Ok(r)
}
