//! The files SQLiteStorage creates hold password hashes and the token signing secret: only
//! their owner may read them.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use easyim_core::{AccountStore, User};
use easyim_storage_sqlite::{SqliteOptions, SqliteStorage};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_and_its_wal_are_owner_only() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("easyim.db");
    let s = SqliteStorage::open(&db, SqliteOptions::default()).unwrap();
    s.server_secret("a secret").await.unwrap();
    s.create_user(User {
        id: 1,
        account: "a".into(),
        nickname: "a".into(),
        avatar: String::new(),
        password_hash: "hash".into(),
        secret: "s".into(),
    })
    .await
    .unwrap();
    assert_eq!(mode(&db), 0o600, "the database file");
    for suffix in ["-wal", "-shm"] {
        let f = dir.path().join(format!("easyim.db{suffix}"));
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
}
