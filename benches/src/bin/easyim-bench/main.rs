//! `easyim-bench`: the end-to-end load generator.
//!
//! Drives a running easyim server (`--server`) and/or a bare in-process tokio forwarder of the
//! same frames (`--baseline`) with one scenario (`direct`, `group`, `idle`, `login`,
//! `accounts`, `conversations`), checks what it receives (every acked message delivered exactly once per
//! recipient connection, the delivered copy equal to the acked one, `conv_seq` strictly
//! increasing per conversation per connection) and reports throughput, latency and
//! violations. Exits non-zero on any violation or error. See BENCHMARKS.md.
//!
//! Modules: `args` (the command line), `transport` (connect and log in), `tls` (`--tls`),
//! `http` and `seed`
//! (users and groups through the API), `baseline` (the bare forwarder), `messages` with
//! `sender`, `receiver` and `checker` (the message scenarios' run and checks), one module per
//! scenario (`direct`, `group`, `idle`, `login`, `accounts`, `conversations`), `hist`, `procfs`, `problems`
//! and `report` (what is measured and how it is printed).

mod accounts;
mod args;
mod baseline;
mod checker;
mod conversations;
mod direct;
mod group;
mod hist;
mod http;
mod idle;
mod login;
mod messages;
mod problems;
mod procfs;
mod receiver;
mod report;
mod seed;
mod sender;
mod tls;
mod transport;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Parser;

use crate::args::{Args, Scenario, Transport};
use crate::baseline::{BaselineSeeder, Forwarder};
use crate::report::Report;
use crate::seed::{ApiSeeder, Seeder};
use crate::tls::Tls;
use crate::transport::Target;

/// Runs the scenario once against `target`.
async fn run_one(
    args: &Args,
    target: Target,
    seeder: &impl Seeder,
    pid: Option<u32>,
    label: &str,
) -> Result<Report> {
    match args.scenario {
        Scenario::Direct => {
            let conns = direct::conns(args, seeder).await?;
            messages::run_messages(args, &target, conns, label, pid).await
        }
        Scenario::Group => {
            let conns = group::conns(args, seeder).await?;
            messages::run_messages(args, &target, conns, label, pid).await
        }
        Scenario::Idle => idle::run(args, &target, seeder, pid, label).await,
        Scenario::Login => login::run(args, &target, seeder, pid, label).await,
        Scenario::Accounts => bail!("the accounts scenario runs over HTTP only"),
        Scenario::Conversations => conversations::run(args, &target, seeder, pid).await,
    }
}

/// Refuses combinations that cannot work and warns if the run needs more descriptors than
/// it may open.
fn preflight(args: &Args) -> Result<()> {
    if args.baseline && args.transport == Transport::Ws {
        bail!("the baseline forwarder speaks framed TCP only (--transport pb or json)");
    }
    if args.baseline && matches!(args.scenario, Scenario::Accounts | Scenario::Conversations) {
        bail!("--scenario accounts and conversations measure the server's HTTP API: they have no --baseline");
    }
    let fds_needed = match args.scenario {
        Scenario::Direct => args.pairs * 2,
        Scenario::Group => args.groups * args.members,
        Scenario::Idle => args.conns,
        Scenario::Login => args.workers,
        Scenario::Accounts => args.burst,
        Scenario::Conversations => 4,
    } * if args.baseline { 2 } else { 1 }
        + 64;
    if let Some((soft, hard)) = procfs::open_files_limit() {
        if fds_needed as u64 > soft {
            eprintln!(
                "warning: this run needs about {fds_needed} file descriptors but `ulimit -n` is {soft} (hard {hard})"
            );
        }
    }
    Ok(())
}

/// The server run, if asked for.
async fn run_server(args: &Args, tag: &str) -> Result<Report> {
    if args.scenario == Scenario::Accounts {
        return accounts::run(args, tag, args.server_pid).await;
    }
    let seeder = ApiSeeder {
        api: args.api,
        concurrency: args.seed_concurrency,
        tag: tag.to_owned(),
    };
    let t = Target {
        ims: std::iter::once(args.im)
            .chain(args.nodes.iter().copied())
            .collect(),
        transport: args.transport,
        tls: match (&args.tls, &args.ca) {
            (false, _) => None,
            (true, Some(ca)) => Some(Tls::trusting(ca)?),
            (true, None) => bail!("--tls needs --ca <file>, the PEM certificate to trust"),
        },
    };
    run_one(args, t, &seeder, args.server_pid, "server").await
}

/// The baseline run, if asked for.
async fn run_baseline(args: &Args) -> Result<Report> {
    let (fwd, addr) = Forwarder::start(args.fault).await?;
    let seeder = BaselineSeeder {
        fwd,
        next: AtomicU64::new(0),
    };
    let t = Target {
        ims: Arc::from([addr]),
        transport: args.transport,
        // The bare forwarder speaks plain TCP only.
        tls: None,
    };
    let pid = Some(std::process::id());
    let mut r = run_one(args, t, &seeder, pid, "baseline").await?;
    // In-process: the "server" CPU is this whole process, generator included.
    r.metrics
        .retain(|(k, _)| k != "server_cpu_pct" && !k.starts_with("server_rss"));
    Ok(r)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if !args.server && !args.baseline {
        args.server = true;
    }
    preflight(&args)?;
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
        runs.push(("server", run_server(&args, &tag).await?));
    }
    if args.baseline {
        runs.push(("baseline", run_baseline(&args).await?));
    }
    let bad = runs.iter().any(|(_, r)| r.errors > 0 || r.violations > 0);
    if args.json {
        report::print_json(&args, &runs);
    } else {
        report::print_table(&args, &runs);
    }
    if bad {
        std::process::exit(1);
    }
    Ok(())
}
