//! What the binary writes to its log when the log is not a terminal.

use std::process::{Command, Stdio};

/// `easyim > log.txt` (or a pipe to a log collector) gets plain text: no ANSI colour codes,
/// while the log lines themselves are there.
#[test]
fn log_to_a_file_or_pipe_has_no_colour_codes() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_easyim"))
        .arg("--init-only")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run easyim --init-only");
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("INFO"), "the log lines are written: {log}");
    assert!(!log.contains('\u{1b}'), "no escape sequences in {log:?}");
}
