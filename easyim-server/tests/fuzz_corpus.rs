//! Replays the committed fuzz corpus of the HTTP API target (fuzz/corpus/api) on stable, with
//! no fuzzer: every file goes through the same check as the cargo-fuzz target (the whole
//! router in-process over memory storage: no panic, no hang, no 5xx, always the envelope),
//! which lives in fuzz/checks/api.rs and is included here.

use std::path::{Path, PathBuf};

include!("../../fuzz/checks/api.rs");

/// Every file of fuzz/corpus/api, sorted.
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/api");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

#[test]
fn api_corpus() {
    let mut failed = Vec::new();
    let files = corpus();
    for path in &files {
        let data = std::fs::read(path).expect("a corpus file");
        if std::panic::catch_unwind(|| fuzz_api(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "api: failing corpus files: {failed:?}");
    println!("api: {} corpus files passed", files.len());
}
