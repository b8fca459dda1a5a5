//! `easyim --import-original`: an original installation's SQLite database, built with the
//! original's schema (its Go models as its ORM created them) and real-looking data, imported
//! into a fresh server, then used through the API; a second run changes nothing.

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::*;

/// The original's schema, as its ORM created it on SQLite (booleans as integers, dates as
/// text).
const SCHEMA: &str = "
CREATE TABLE `users` (`id` INTEGER PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `salt` TEXT NOT NULL, `password_hash` TEXT NOT NULL,
  `account` TEXT NOT NULL, `name` TEXT NOT NULL, `mobile` TEXT NOT NULL, `email` TEXT NOT NULL,
  `avatar` TEXT NOT NULL, `remote_addr` TEXT NOT NULL);
CREATE UNIQUE INDEX `UQE_users_account` ON `users` (`account`);
CREATE TABLE `friends` (`id` INTEGER PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` INTEGER NOT NULL, `friend_id` INTEGER NOT NULL,
  `remark` TEXT NOT NULL, `sort` INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE `friend_add_logs` (`id` INTEGER PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` INTEGER NOT NULL, `friend_id` INTEGER NOT NULL,
  `msg` TEXT NOT NULL, `status` INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE `chat_groups` (`id` INTEGER PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` INTEGER NOT NULL, `name` TEXT NOT NULL,
  `join_check` INTEGER DEFAULT 0 NOT NULL, `status` INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE `chat_group_users` (`id` INTEGER PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `group_id` INTEGER NOT NULL, `user_id` INTEGER NOT NULL,
  `status` INTEGER DEFAULT 0 NOT NULL, `sort` INTEGER DEFAULT 0 NOT NULL,
  `be_quiet` INTEGER NOT NULL);
";

// Snowflake ids as the original made them.
const ALICE: i64 = 1630381388895096832;
const BOB: i64 = 1630381388895666666;
const CAROL: i64 = 1630381477126475776;
const DAVE: i64 = 1630381523578392576;
/// Her account name is taken in the new server by someone else: skipped.
const ERIN: i64 = 1630381600000000000;
const TEAM: i64 = 1630392697653039104;
/// Owned by Erin, who is skipped: skipped too.
const ERINS: i64 = 1630392697653039999;

/// What the original stored for a password: hex SHA-256 of hex SHA-256.
fn original_hash(password: &str) -> String {
    let once = hex::encode(Sha256::digest(password.as_bytes()));
    hex::encode(Sha256::digest(once.as_bytes()))
}

fn build_original(path: &Path) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    let users = [
        (
            ALICE,
            "alice",
            "Alice Liu",
            "13800000001",
            "alice@example.com",
            "alice-pw",
        ),
        (BOB, "bob", "", "13800000002", "bob@example.com", "bob-pw"),
        (
            CAROL,
            "carol",
            "Carol",
            "13800000003",
            "carol@example.com",
            "carol-pw",
        ),
        (
            DAVE,
            "dave",
            "Dave",
            "13800000004",
            "dave@example.com",
            "dave-pw",
        ),
        (
            ERIN,
            "erin",
            "Erin",
            "13800000005",
            "erin@example.com",
            "erin-pw",
        ),
    ];
    for (id, account, name, mobile, email, pw) in users {
        db.execute(
            "INSERT INTO users VALUES (?1, '2023-02-28 17:03:12', '2023-02-28 17:03:12', ?2,
             ?3, ?4, ?5, ?6, ?7, 'https://example.com/a.png', '127.0.0.1:53211')",
            rusqlite::params![
                id,
                "s".repeat(64),
                original_hash(pw),
                account,
                name,
                mobile,
                email
            ],
        )
        .unwrap();
    }
    // Friends: a row per side, with remarks and a pin; one pair has one side only.
    for (id, u, f, remark, sort) in [
        (1, ALICE, BOB, "Bobby", 1),
        (2, BOB, ALICE, "", 0),
        (3, CAROL, ALICE, "", 0),
        (4, ERIN, ALICE, "", 0),
    ] {
        db.execute(
            "INSERT INTO friends VALUES (?1, '2023-03-01 10:00:00', '2023-03-01 10:00:00',
             ?2, ?3, ?4, ?5)",
            rusqlite::params![id, u, f, remark, sort],
        )
        .unwrap();
    }
    // Requests: open, accepted, refused; dates as unix seconds (as some versions wrote).
    for (id, u, f, msg, status) in [
        (1, DAVE, ALICE, "hi, I am Dave", 0),
        (2, CAROL, ALICE, "", 1),
        (3, DAVE, BOB, "", 2),
        (4, DAVE, CAROL, "", 0),
        (5, ERIN, BOB, "", 0),
    ] {
        db.execute(
            "INSERT INTO friend_add_logs VALUES (?1, 1677664800, 1677664800, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, u, f, msg, status],
        )
        .unwrap();
    }
    db.execute(
        "INSERT INTO chat_groups VALUES (?1, '2023-03-01 11:00:00', NULL, ?2, 'team', 1, 1)",
        [TEAM, ALICE],
    )
    .unwrap();
    db.execute(
        "INSERT INTO chat_groups VALUES (?1, '2023-03-01 11:00:00', NULL, ?2, 'erin''s', 0, 0)",
        [ERINS, ERIN],
    )
    .unwrap();
    for (id, g, u, status, sort, quiet) in [
        (1, TEAM, ALICE, 0, 1, 0),
        (2, TEAM, BOB, 1, 0, 0),
        (3, TEAM, CAROL, 0, 0, 1),
        (4, TEAM, ERIN, 0, 0, 0),
        (5, ERINS, ERIN, 0, 0, 0),
        (6, ERINS, DAVE, 0, 0, 0),
    ] {
        db.execute(
            "INSERT INTO chat_group_users VALUES (?1, NULL, NULL, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![id, g, u, status, sort, quiet],
        )
        .unwrap();
    }
}

fn import(dir: &Path, args: &[&str]) -> Output {
    let out = command(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run easyim --import-original");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn login(api: std::net::SocketAddr, account: &str, password: &str) -> (u16, Value) {
    http(
        api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": account, "password": password})),
    )
    .await
}

async fn get(api: std::net::SocketAddr, token: &str, path: &str) -> Value {
    let (status, v) = http(api, "GET", &format!("{path}&access_token={token}"), None).await;
    assert_eq!(status, 200, "{path}: {v}");
    v["data"].clone()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| field(v, key))
        .collect();
    ids.sort();
    ids
}

fn stored_hash(db: &Path, id: i64) -> String {
    let db = rusqlite::Connection::open(db).unwrap();
    db.query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Imports `source`, an original database holding alice and bob (friends, alice's remark on bob
/// `b`) and the group `TEAM` (alice's, `join_check` on, bob in it with do-not-disturb), into a
/// fresh storage; checks what every database's import must give, then that a second run
/// changes nothing. Returns the first run's report and the storage, for the database's own
/// checks.
async fn import_alice_bob_and_team(
    source: &str,
) -> (
    easyim_server::ImportReport,
    std::sync::Arc<dyn easyim_core::Storage>,
) {
    let storage: std::sync::Arc<dyn easyim_core::Storage> =
        std::sync::Arc::new(easyim_core::MemoryStorage::new());
    let report = easyim_server::import_original(source, storage.clone(), 1)
        .await
        .unwrap();
    let done = easyim_server::Counts {
        imported: 2,
        present: 0,
        skipped: 0,
    };
    assert_eq!(report.users, done, "{report}");
    assert_eq!(report.members, done, "{report}");
    assert_eq!(report.friendships.imported, 1, "{report}");
    assert_eq!(report.groups.imported, 1, "{report}");
    // The flags read from the database's booleans: join_check, be_quiet; and the remark.
    let settings = storage.group_settings(TEAM as u64).await.unwrap().unwrap();
    assert_eq!(settings.join_policy, easyim_core::JoinPolicy::Approval);
    let bobs = storage.conversations(BOB as u64, None, 10).await.unwrap();
    assert!(bobs.items[0].muted, "{bobs:?}");
    let remarks = storage
        .friend_remarks(ALICE as u64, &[BOB as u64])
        .await
        .unwrap();
    assert_eq!(remarks, [(BOB as u64, "b".to_owned())]);
    let alice = storage.user(ALICE as u64).await.unwrap().unwrap();
    assert_eq!(
        alice.password_hash,
        format!("legacy-sha256${}", original_hash("alice-pw"))
    );
    assert!(storage.is_member(TEAM as u64, BOB as u64).await.unwrap());
    let again = easyim_server::import_original(source, storage.clone(), 1)
        .await
        .unwrap();
    assert!(again.changed_nothing(), "{again}");
    (report, storage)
}

mod errors;
mod mysql;
mod postgres;
mod sqlite;
