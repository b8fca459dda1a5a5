//! The accounts scenario: the server's memory under sign-up and login bursts.
//!
//! Registers `--accounts` accounts with `POST /api/user/register` in bursts of `--burst`
//! concurrent requests (each burst finishes before the next starts), then logs the registered
//! ones in with `POST /api/user/login` in the same bursts. Reports the rate, latency and
//! answers by status of each phase, and the server's VmRSS and VmHWM (peak) before, after the
//! registrations, after the logins and 2 s later (memory that stays).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::args::Args;
use crate::hist::Hist;
use crate::http;
use crate::problems::Problems;
use crate::procfs::{hwm_kib, rss_kib, CpuWindow};
use crate::report::Report;

/// The password of every account of the scenario.
const PASSWORD: &str = "bench-password";

/// How long to wait after the logins before the last memory reading.
const SETTLE: Duration = Duration::from_secs(2);

/// What one phase (registrations or logins) saw.
#[derive(Debug)]
struct Phase {
    /// `register` or `login`: the prefix of its figures.
    name: &'static str,
    /// Answers 200, 503 (busy) and any other status.
    ok: u64,
    busy: u64,
    other: u64,
    /// Latency of the 200 answers.
    lat: Hist,
    secs: f64,
}

impl Phase {
    /// Puts `<name>s_per_s` (200 answers per second), the answers by status and the latency.
    fn report(&self, per_s: &str, r: &mut Report) {
        r.put(per_s, self.ok as f64 / self.secs);
        r.put(&format!("{}_200", self.name), self.ok as f64);
        r.put(&format!("{}_503", self.name), self.busy as f64);
        r.put(&format!("{}_other", self.name), self.other as f64);
        r.put(&format!("{}_p50_ms", self.name), self.lat.q_ms(0.5));
        r.put(&format!("{}_p99_ms", self.name), self.lat.q_ms(0.99));
    }

    /// Counts one answer; true if it was a 200. Anything but 200 and 503 is an error.
    fn count(
        &mut self,
        answer: Result<(StatusCode, bytes::Bytes)>,
        took: Duration,
        path: &str,
        problems: &Problems,
    ) -> bool {
        match answer {
            Ok((StatusCode::OK, _)) => {
                self.ok += 1;
                self.lat.record(took.as_micros() as u64);
                true
            }
            Ok((StatusCode::SERVICE_UNAVAILABLE, _)) => {
                self.busy += 1;
                false
            }
            Ok((status, body)) => {
                self.other += 1;
                let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                problems.error(format!("{path}: {status}: {body}"));
                false
            }
            Err(e) => {
                problems.error(format!("{path}: {e:#}"));
                false
            }
        }
    }
}

/// The account name of account `i` of run `tag`.
fn account(tag: &str, i: usize) -> String {
    format!("bench{tag}a{i}")
}

/// Sends one request per body, `burst` at a time; returns the phase and, per body, whether
/// the answer was 200.
async fn phase(
    name: &'static str,
    api: SocketAddr,
    path: &'static str,
    bodies: Vec<Value>,
    burst: usize,
    problems: &Problems,
) -> (Phase, Vec<bool>) {
    let mut p = Phase {
        name,
        ok: 0,
        busy: 0,
        other: 0,
        lat: Hist::new(),
        secs: 0.0,
    };
    let total = bodies.len();
    let show = std::io::stderr().is_terminal();
    let mut oks = Vec::with_capacity(total);
    let started = Instant::now();
    for chunk in bodies.chunks(burst.max(1)) {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|b| {
                tokio::spawn(async move {
                    let t0 = Instant::now();
                    let answer = http::post_raw(api, path, &b).await;
                    (answer, t0.elapsed())
                })
            })
            .collect();
        for t in tasks {
            let ok = match t.await {
                Ok((answer, took)) => p.count(answer, took, path, problems),
                Err(e) => {
                    problems.error(format!("{path}: task: {e}"));
                    false
                }
            };
            oks.push(ok);
        }
        if show {
            eprint!("\r[accounts] {name}: {} of {total}   ", oks.len());
        }
    }
    p.secs = started.elapsed().as_secs_f64();
    if show {
        eprintln!();
    }
    (p, oks)
}

/// Puts the server's VmRSS and VmHWM as `server_rss_<when>_kib` and `server_hwm_<when>_kib`.
fn memory(pid: u32, when: &str, r: &mut Report) {
    if let Some(v) = rss_kib(pid) {
        r.put(&format!("server_rss_{when}_kib"), v as f64);
    }
    if let Some(v) = hwm_kib(pid) {
        r.put(&format!("server_hwm_{when}_kib"), v as f64);
    }
}

/// Runs the accounts scenario against the server at `--api` (process `--server-pid`).
pub(crate) async fn run(args: &Args, tag: &str, server_pid: Option<u32>) -> Result<Report> {
    let Some(pid) = server_pid else {
        bail!("--scenario accounts reads the server's memory: it needs --server-pid");
    };
    let problems = Problems::default();
    let mut mem = Report::default();
    memory(pid, "before", &mut mem);
    let cpu = CpuWindow::start(Some(pid));
    let names: Vec<String> = (0..args.accounts).map(|i| account(tag, i)).collect();
    let bodies = names
        .iter()
        .map(|a| json!({"account": a, "password": PASSWORD, "nickname": a}))
        .collect();
    let (reg, oks) = phase(
        "register",
        args.api,
        "/api/user/register",
        bodies,
        args.burst,
        &problems,
    )
    .await;
    memory(pid, "after_register", &mut mem);
    let bodies = names
        .iter()
        .zip(&oks)
        .filter(|(_, ok)| **ok)
        .map(|(a, _)| json!({"account": a, "password": PASSWORD}))
        .collect();
    let (login, _) = phase(
        "login",
        args.api,
        "/api/user/login",
        bodies,
        args.burst,
        &problems,
    )
    .await;
    memory(pid, "after_login", &mut mem);
    let mut r = Report::default();
    cpu.finish(&mut r);
    tokio::time::sleep(SETTLE).await;
    memory(pid, "2s_after", &mut mem);
    r.put("accounts", args.accounts as f64);
    r.put("burst", args.burst as f64);
    reg.report("registrations_per_s", &mut r);
    login.report("logins_per_s", &mut r);
    r.metrics.append(&mut mem.metrics);
    problems.fill(&mut r);
    Ok(r)
}
