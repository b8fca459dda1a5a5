//! The real `easyim` binary: started in a folder on free ports, as a user would start it (the
//! ports in the folder's `.env`), with its log in `server.log` there.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{try_request, WAIT};

/// Every setting of the server, none of which a test inherits from its own environment.
const KEYS: &[&str] = &[
    "SERVER_IP",
    "SERVER_PORT",
    "API_SERVER_PORT",
    "SQLITE_PATH",
    "DB_NAME",
    "AUTH_TIMEOUT",
    "SERVER_DROP_AFTER",
    "MSG_FORMAT",
    "API_ALWAYS_200",
    "DAEMON_LOG_FILE",
    "DAEMON_PID_FILE",
    "MAX_CONNECTIONS",
    "RATE_LIMIT",
    "API_RATE_LIMIT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "RUST_LOG",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_REQUIRED",
    "ADMIN_TOKEN",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_EVENTS",
    "WEBHOOK_RETRY_MIN_MS",
    "WEBHOOK_RETRY_MAX_MS",
    "WEBHOOK_TIMEOUT_MS",
    "WEBHOOK_BATCH",
    "BEFORE_SEND_URL",
    "BEFORE_SEND_TIMEOUT_MS",
    "BEFORE_SEND_ON_ERROR",
];

/// `easyim` in `dir`, with none of the settings inherited from the test's environment.
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_easyim"));
    c.current_dir(dir);
    for k in KEYS {
        c.env_remove(k);
    }
    c
}

/// A free port, for 127.0.0.1 or 0.0.0.0 (some sandboxes refuse 0.0.0.0:P for a while after
/// 127.0.0.1:P was bound, but not the other way round).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `easyim` process; killed (SIGKILL) when dropped, so a failing test leaves none.
pub struct Proc {
    pub child: Child,
    pub im: SocketAddr,
    pub api: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Waits until the IM port accepts and GET /healthz answers 200; the exit status if the
    /// process ended first. Panics after [`WAIT`].
    pub async fn ready(&mut self) -> Result<(), ExitStatus> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            if self.healthy().await {
                return Ok(());
            }
            assert!(t0.elapsed() < WAIT, "easyim did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn healthy(&self) -> bool {
        let limit = Duration::from_secs(5);
        if !matches!(
            tokio::time::timeout(limit, TcpStream::connect(self.im)).await,
            Ok(Ok(_))
        ) {
            return false;
        }
        let probe = try_request(self.api, "GET", "/healthz", &[], b"");
        matches!(tokio::time::timeout(limit, probe).await, Ok(Ok(r)) if r.status == 200)
    }

    /// Waits for the process to exit, at most `limit`; kills it and panics after that.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("easyim did not exit within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Starts the binary in `dir` on fresh ports (written to `dir/.env`) with the extra
/// environment `env`, and waits until it is ready. Tries again on other ports if it exits at
/// start (a port taken in between).
pub async fn spawn(dir: &Path, env: &[(&str, &str)]) -> Proc {
    for attempt in 0..5 {
        let (p1, p2) = (free_port(), free_port());
        std::fs::write(
            dir.join(".env"),
            // The limits are on by default; the tests measure other things (those that test a
            // limit set it in `env`, which wins over `.env`).
            format!(
                "SERVER_IP = 127.0.0.1\nSERVER_PORT = {p1}\nAPI_SERVER_PORT = {p2}\n\
                 RATE_LIMIT = 0\nAPI_RATE_LIMIT = 0\n"
            ),
        )
        .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let mut cmd = command(dir);
        cmd.stdin(Stdio::null())
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
        match p.ready().await {
            Ok(()) => return p,
            Err(status) => eprintln!("easyim exited at start ({status}), attempt {attempt}"),
        }
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("easyim would not start:\n{log}");
}

/// Whether `path` exists and is not empty.
pub fn non_empty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// [`spawn`] in a fresh temporary folder, which lives as long as the returned `TempDir`.
pub async fn spawn_temp(env: &[(&str, &str)]) -> (tempfile::TempDir, Proc) {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn(dir.path(), env).await;
    (dir, p)
}
