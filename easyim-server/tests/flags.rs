//! The binary's flags as the original's: one or two dashes, `--init` then serve,
//! `--init-only`, `-d` in the background and `--stop`.

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run easyim")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes a `.env` with free ports for the server in `dir`; answers them.
fn ports_env(dir: &Path) -> (u16, u16) {
    let (p1, p2) = (free_port(), free_port());
    std::fs::write(
        dir.join(".env"),
        format!(
            "SERVER_IP = 127.0.0.1\nSERVER_PORT = {p1}\nAPI_SERVER_PORT = {p2}\n\
             RATE_LIMIT = 0\nAPI_RATE_LIMIT = 0\n"
        ),
    )
    .unwrap();
    (p1, p2)
}

async fn healthy(api: u16) -> bool {
    let probe = try_request(([127, 0, 0, 1], api).into(), "GET", "/healthz", &[], b"");
    matches!(
        tokio::time::timeout(Duration::from_secs(5), probe).await,
        Ok(Ok(r)) if r.status == 200
    )
}

async fn wait_healthy(api: u16) {
    let t0 = Instant::now();
    while !healthy(api).await {
        assert!(t0.elapsed() < WAIT, "no server became healthy on {api}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn init_only_prepares_and_exits_in_every_flag_form() {
    for flag in ["-init-only", "--init-only", "-init-only=true"] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &[flag]);
        assert!(out.status.success(), "{flag}: {}", text(&out));
        assert!(dir.path().join("env.default").exists(), "{flag}");
        assert!(non_empty(&dir.path().join("easyim.db")), "{flag}");
    }
    // Unknown flags and bad values are refused, naming them.
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["-bogus"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("bogus"), "{}", text(&out));
    let out = run(dir.path(), &["-port", "notaport"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("notaport"), "{}", text(&out));
    let out = run(dir.path(), &["-init=maybe"]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[tokio::test]
async fn go_style_ports_and_init_then_serve_and_stop() {
    for (single, init) in [(true, "-init"), (false, "--init")] {
        let dir = tempfile::tempdir().unwrap();
        // .env has other ports: the flags win.
        ports_env(dir.path());
        let (p1, p2) = (free_port(), free_port());
        let (port, apiport) = (p1.to_string(), p2.to_string());
        let args: Vec<String> = if single {
            vec![
                init.into(),
                "-port".into(),
                port,
                format!("-apiport={apiport}"),
            ]
        } else {
            vec![
                init.into(),
                format!("--port={port}"),
                "--apiport".into(),
                apiport,
            ]
        };
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut p = Proc {
            child: command(dir.path())
                .args(&args)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
            im: ([127, 0, 0, 1], p1).into(),
            api: ([127, 0, 0, 1], p2).into(),
        };
        // --init goes on serving, on the ports the flags give.
        p.ready().await.unwrap_or_else(|s| {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
            panic!("{args:?} exited ({s}):\n{log}")
        });
        let stop = if single { "-stop" } else { "--stop" };
        let out = run(dir.path(), &[stop, &format!("-apiport={p2}")]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(p.wait_exit(Duration::from_secs(20)).await.success());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn daemon_then_stop() {
    for flag in ["-d", "--daemon"] {
        let dir = tempfile::tempdir().unwrap();
        let (_, api) = ports_env(dir.path());
        let t0 = Instant::now();
        let out = run(dir.path(), &[flag]);
        // The command returns while the server goes on in the background.
        assert!(out.status.success(), "{flag}: {}", text(&out));
        assert!(t0.elapsed() < Duration::from_secs(20));
        let pid_file = dir.path().join("easyim.pid");
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the pid file")
            .trim()
            .parse()
            .unwrap();
        assert!(text(&out).contains(&pid.to_string()), "{}", text(&out));
        wait_healthy(api).await;
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        // The server runs in a session of its own (detached from the test's).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(
            fields[3],
            pid.to_string(),
            "session id = its own pid: {stat}"
        );

        let out = run(dir.path(), &["--stop"]);
        assert!(out.status.success(), "{}", text(&out));
        // --stop waited for the end and removed the pid file.
        assert!(!pid_file.exists());
        let t0 = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(
                t0.elapsed() < WAIT,
                "the background server is still running"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!healthy(api).await);
        let log = std::fs::read_to_string(dir.path().join("easyim.log")).unwrap();
        assert!(log.contains("easyim listening"), "{log}");
        assert!(log.contains("stopped"), "{log}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn daemon_that_cannot_start_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "MSG_FORMAT = xml\n").unwrap();
    let out = run(dir.path(), &["-d"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("MSG_FORMAT"), "{}", text(&out));
    // A port taken: the background server ends at once, and -d reports it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join(".env"),
        format!("SERVER_IP = 127.0.0.1\nSERVER_PORT = {port}\nAPI_SERVER_PORT = 0\n"),
    )
    .unwrap();
    let out = run(dir.path(), &["-d"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("easyim.log"), "{}", text(&out));
    assert!(!dir.path().join("easyim.pid").exists());
}
