//! `-d` / `--daemon` (unix only): the server detached in the background, as the original's
//! `-d`. The command starts itself again with the same arguments minus the daemon flag, in a
//! new session (no controlling terminal, so closing the terminal does not stop it), with its
//! output appended to `DAEMON_LOG_FILE` and its process id in `DAEMON_PID_FILE`. `--stop`
//! stops it as it stops any server started from the folder, then waits for the process to end
//! and removes the pid file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::DaemonError;

/// Set in the detached server's environment: it then starts a new session, and removes its pid
/// file when it ends.
pub const DETACHED_ENV: &str = "EASYIM_DETACHED";

/// How long the starting command watches the detached server for an early exit (a port taken,
/// a bad setting) before it reports success.
const WATCH: Duration = Duration::from_millis(1500);

/// The arguments without the daemon flag (after [`crate::go_style_args`]).
pub fn without_daemon_flag(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if !rest && (a == "-d" || a == "--daemon") {
            continue;
        }
        rest |= a == "--";
        out.push(a.clone());
    }
    out
}

/// Starts this program again with `args` (the daemon flag removed) in the background; its
/// output goes to `log`, its process id to `pid_file`. Answers the process id once the server
/// has run for a moment without ending.
pub fn detach(args: &[String], log: &Path, pid_file: &Path) -> Result<u32, DaemonError> {
    let exe = std::env::current_exe().map_err(|source| DaemonError::File {
        what: "this program",
        path: PathBuf::from("easyim"),
        source,
    })?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|source| DaemonError::File {
            what: "the log",
            path: log.to_owned(),
            source,
        })?;
    let err = out.try_clone().map_err(|source| DaemonError::File {
        what: "the log",
        path: log.to_owned(),
        source,
    })?;
    let mut child = Command::new(exe)
        .args(without_daemon_flag(args))
        .env(DETACHED_ENV, pid_file)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(DaemonError::Spawn)?;
    let pid = child.id();
    std::fs::write(pid_file, format!("{pid}\n")).map_err(|source| DaemonError::File {
        what: "the pid file",
        path: pid_file.to_owned(),
        source,
    })?;
    let t0 = Instant::now();
    while t0.elapsed() < WATCH {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(pid_file);
            return Err(DaemonError::Exited {
                status,
                log: log.display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(pid)
}

/// In the detached server: leaves the starting command's session, so that no terminal's hang-up
/// reaches it. Answers the pid file to remove at the end, if this process is the detached one.
pub fn enter_session() -> Option<PathBuf> {
    let pid_file = std::env::var_os(DETACHED_ENV)?;
    if let Err(e) = rustix::process::setsid() {
        tracing::warn!(error = %e, "cannot start a new session; staying in the current one");
    }
    Some(PathBuf::from(pid_file))
}

/// At the end of the detached server: removes the pid file if it still names this process.
pub fn remove_pid_file(pid_file: &Path) {
    if read_pid(pid_file) == Some(std::process::id()) {
        let _ = std::fs::remove_file(pid_file);
    }
}

/// The process id in `pid_file`, if it holds one.
pub fn read_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// After `--stop`: waits (at most `limit`) for the process named in `pid_file` to end, then
/// removes the file. Answers false if it was still running at the limit.
pub fn wait_gone(pid_file: &Path, limit: Duration) -> bool {
    let Some(pid) = read_pid(pid_file) else {
        return true;
    };
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    let t0 = Instant::now();
    while rustix::process::test_kill_process(pid).is_ok() {
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(pid_file);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_flag_is_removed_and_nothing_else() {
        let args: Vec<String> = ["-d", "--port", "1", "--daemon", "--", "-d"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(without_daemon_flag(&args), ["--port", "1", "--", "-d"]);
    }

    #[test]
    fn a_pid_file_of_a_process_that_ended_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("easyim.pid");
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        std::fs::write(&file, format!("{}\n", child.id())).unwrap();
        assert!(wait_gone(&file, Duration::from_secs(5)));
        assert!(!file.exists());
        // This process is alive: not removed.
        std::fs::write(&file, format!("{}\n", std::process::id())).unwrap();
        assert!(!wait_gone(&file, Duration::from_millis(100)));
        assert!(file.exists());
    }
}
