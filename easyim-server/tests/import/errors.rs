//! A missing or foreign source.

use super::*;

#[tokio::test]
async fn a_missing_or_foreign_source_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args(["--import-original", "nothing-here.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing-here.db"), "{err}");
    assert!(
        !dir.path().join("nothing-here.db").exists(),
        "never created"
    );
    // A SQLite file that is not the original's.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER);")
        .unwrap();
    let out = command(dir.path())
        .args(["--import-original", "other.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users"), "{err}");
}
