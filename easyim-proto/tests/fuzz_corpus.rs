//! Replays the committed fuzz corpus of the wire-format targets (fuzz/corpus/framed, lines and
//! ws) on stable, with no fuzzer: every file goes through the same checks as the cargo-fuzz
//! targets, which live in fuzz/checks/proto.rs and are included here.

use std::path::{Path, PathBuf};

include!("../../fuzz/checks/proto.rs");

/// Every file of fuzz/corpus/<target>, sorted.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

/// Runs `check` on every corpus file of `target`; fails naming the files that fail.
fn replay(target: &str, check: fn(&[u8])) {
    let mut failed = Vec::new();
    let files = corpus(target);
    for path in &files {
        let data = std::fs::read(path).expect("a corpus file");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: failing corpus files: {failed:?}"
    );
    println!("{target}: {} corpus files passed", files.len());
}

#[test]
fn framed_corpus() {
    replay("framed", fuzz_framed);
}

#[test]
fn lines_corpus() {
    replay("lines", fuzz_lines);
}

#[test]
fn ws_corpus() {
    replay("ws", fuzz_ws);
}

/// The cases the issue names, whatever the corpus holds: a header announcing 4 GB, under each
/// limit, reserves nothing (the checks bound the buffer by what was received).
#[test]
fn huge_headers_reserve_nothing() {
    for sel in 0..16u8 {
        fuzz_framed(&[sel, 3, 0xff, 0xff, 0xff, 0xff]);
        fuzz_framed(&[sel, 3, 0x00, 0x01, 0x00, 0x00, b'{']);
        fuzz_framed(&[sel, 3, 0x7f, 0xff, 0xff, 0xff, 0x0a, 0x01]);
        fuzz_lines(&[sel, 3, b'{', b'"', b'a', b'"']);
    }
}
