//! The example binaries start: `embed --check-only` runs the storage conformance kit against
//! the example's own storage and then the whole domain (accounts, friends, groups, messages,
//! history) through its JSON-lines transport in process, and `chat --help` parses its flags.

use std::process::Command;

#[test]
fn embed_passes_the_conformance_kit_and_the_domain_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_embed"))
        .arg("--check-only")
        .output()
        .expect("run the embed example");
    assert!(
        out.status.success(),
        "embed --check-only failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn chat_prints_its_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_chat"))
        .arg("--help")
        .output()
        .expect("run the chat example");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("register"));
}
