//! The `easyim` binary: `easyim` runs the server; `--init` prepares the folder and serves,
//! `--init-only` prepares and exits; `-d` serves in the background; `--stop` asks a running
//! server on this machine to stop; `--import-original` brings an original installation's data
//! over. Flags take one or two dashes, as the original's Go flags did.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context as _;
use clap::Parser;
use easyim_server::{Server, Sources};
use tracing_subscriber::EnvFilter;

/// easyim: an instant-messaging server (TCP, WebSocket, HTTP API, SQLite).
///
/// Configuration comes from env.default (written on first run), .env, the environment, and
/// these flags, each overriding the one before. Every long flag takes one or two dashes
/// (`-port 8888` is `--port 8888`), as the original's did.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// IM port (SERVER_PORT).
    #[arg(long)]
    port: Option<u16>,
    /// HTTP API port (API_SERVER_PORT).
    #[arg(long)]
    apiport: Option<u16>,
    /// Write env.default and create or migrate the database, then serve (as the original).
    #[arg(long)]
    init: bool,
    /// Write env.default and create or migrate the database, then exit.
    #[arg(long, conflicts_with_all = ["init", "stop", "daemon"])]
    init_only: bool,
    /// Serve in the background: log to DAEMON_LOG_FILE, process id in DAEMON_PID_FILE (unix).
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Ask the server running on this machine's API port to stop gracefully, then exit.
    #[arg(long, conflicts_with = "daemon")]
    stop: bool,
    /// Import an original easyim installation's database (its SQLite file, or a postgres:// or
    /// mysql:// URL) into this server's storage, then exit. Safe to run again.
    #[arg(
        long,
        value_name = "SOURCE",
        num_args = 0..=1,
        default_missing_value = "sqlite3.db",
        conflicts_with_all = ["stop", "daemon"]
    )]
    import_original: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = easyim_server::go_style_args(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    let cli = Cli::parse_from(std::iter::once("easyim".to_owned()).chain(args.iter().cloned()));
    #[cfg(unix)]
    let detached = easyim_server::daemon::enter_session();
    let mut sources = Sources::load(Path::new(".")).context("reading the configuration")?;
    if let Some(p) = cli.port {
        sources.set("SERVER_PORT", p.to_string());
    }
    if let Some(p) = cli.apiport {
        sources.set("API_SERVER_PORT", p.to_string());
    }
    let config = sources.config()?;
    if cli.daemon {
        return daemonize(&args, &config);
    }
    init_logs(config.log_json, &config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if cli.stop {
        rt.block_on(stop_running(config.api_port, &config.local_stop_file))?;
        #[cfg(unix)]
        if !easyim_server::daemon::wait_gone(
            &config.daemon_pid_file,
            std::time::Duration::from_secs(30),
        ) {
            anyhow::bail!(
                "the server accepted to stop but is still running after 30 s (pid file {})",
                config.daemon_pid_file.display()
            );
        }
        return Ok(());
    }
    if let Some(source) = &cli.import_original {
        return rt.block_on(async {
            let storage = easyim_server::open_storage(&config).await?;
            let report = easyim_server::import_original(source, storage, config.node_id).await?;
            println!("{report}");
            Ok(())
        });
    }
    if cli.init || cli.init_only {
        rt.block_on(easyim_server::open_storage(&config))?;
        println!("initialised: env.default and the database are ready");
        if cli.init_only {
            return Ok(());
        }
    }
    let served = rt.block_on(async {
        let server = Server::bind(config).await?;
        server.run(shutdown_signal()).await?;
        anyhow::Ok(())
    });
    #[cfg(unix)]
    if let Some(pid_file) = detached {
        easyim_server::daemon::remove_pid_file(&pid_file);
    }
    served
}

/// `-d`: starts the server again in the background and returns at once.
#[cfg(unix)]
fn daemonize(args: &[String], config: &easyim_server::Config) -> anyhow::Result<()> {
    let pid =
        easyim_server::daemon::detach(args, &config.daemon_log_file, &config.daemon_pid_file)?;
    println!(
        "easyim is running in the background: pid {pid} (in {}), log {}; `easyim --stop` stops it",
        config.daemon_pid_file.display(),
        config.daemon_log_file.display()
    );
    Ok(())
}

/// `-d` needs unix's sessions.
#[cfg(not(unix))]
fn daemonize(_args: &[String], _config: &easyim_server::Config) -> anyhow::Result<()> {
    anyhow::bail!("-d (background mode) is only available on unix; run easyim as a service instead")
}

fn init_logs(json: bool, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: `easyim > log.txt` or a pipe to a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `--stop`: POST /api/local/stop on the local API port, as the original did, with the key the
/// running server wrote to `LOCAL_STOP_FILE` (only its owner can read it).
async fn stop_running(api_port: u16, key_file: &Path) -> anyhow::Result<()> {
    use http_body_util::{BodyExt, Empty};
    let key = std::fs::read_to_string(key_file).with_context(|| {
        format!(
            "reading the stop key {} (is easyim running from this folder, as this user?)",
            key_file.display()
        )
    })?;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", api_port))
        .await
        .with_context(|| format!("no easyim server answers on 127.0.0.1:{api_port}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::post("/api/local/stop")
        .header("host", format!("127.0.0.1:{api_port}"))
        .header("x-easyim-stop-key", key.trim())
        .body(Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        anyhow::bail!(
            "the server refused to stop: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    println!("easyim on port {api_port} is stopping");
    Ok(())
}
