//! `easyim --import-original`: an original installation's SQLite database, built with the
//! original's schema (its Go models as its ORM created them) and real-looking data, imported
//! into a fresh server, then used through the API; a second run changes nothing.

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

#[tokio::test]
async fn an_original_sqlite_installation_is_imported_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    build_original(&dir.path().join("sqlite3.db"));
    // A server that has an "erin" of its own already.
    let p = spawn(dir.path(), &[]).await;
    let erin_here = register(p.api, "erin").await;
    p.kill();

    // The default source is ./sqlite3.db; Go-style flag.
    let out = import(dir.path(), &["-import-original"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "users: 4 imported, 0 already there, 1 skipped",
        "friendships: 2 imported, 0 already there, 1 skipped",
        "friend requests: 2 imported, 0 already there, 1 skipped",
        "groups: 1 imported, 0 already there, 1 skipped",
        "group members: 3 imported, 0 already there, 3 skipped",
        "the account name is taken here",
        // A pinned friend has no conversation to pin until a message is sent.
        "not kept (no place for it yet): friends.sort, set on 1 row(s)",
    ] {
        assert!(report.contains(line), "{line:?} in\n{report}");
    }
    for kept in ["be_quiet", "join_check", "remark", "chat_groups.status"] {
        assert!(!report.contains(kept), "{kept} is kept now:\n{report}");
    }

    let mut p = spawn(dir.path(), &[]).await;
    let api = p.api;
    // A legacy password logs in, and is replaced by an argon2id hash at once.
    let db = dir.path().join("easyim.db");
    assert!(stored_hash(&db, ALICE).starts_with("legacy-sha256$"));
    let (status, v) = login(api, "alice", "wrong").await;
    assert_eq!(status, 401, "{v}");
    assert!(stored_hash(&db, ALICE).starts_with("legacy-sha256$"));
    let (status, v) = login(api, "alice", "alice-pw").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["id"], ALICE.to_string(), "the id is kept");
    assert!(stored_hash(&db, ALICE).starts_with("$argon2id$"));
    let (status, v) = login(api, "alice", "alice-pw").await;
    assert_eq!(status, 200, "the argon2id hash works: {v}");
    let alice = v["data"]["access_token"].as_str().unwrap().to_owned();

    // Profiles: the original's name is the nickname (the account when empty).
    let found = get(api, &alice, "/api/user/search?account=bob").await;
    assert_eq!(field(&found["items"][0], "nickname"), "bob", "{found}");
    let found = get(api, &alice, "/api/user/search?account=alice").await;
    assert_eq!(
        field(&found["items"][0], "nickname"),
        "Alice Liu",
        "{found}"
    );

    // Friends both ways, whichever side the original had a row for.
    let friends = get(api, &alice, "/api/user/friends?limit=50").await;
    assert_eq!(
        ids(&friends["items"], "id"),
        [BOB.to_string(), CAROL.to_string()]
    );
    let (_, v) = login(api, "carol", "carol-pw").await;
    let carol = v["data"]["access_token"].as_str().unwrap().to_owned();
    let friends = get(api, &carol, "/api/user/friends?limit=50").await;
    assert_eq!(ids(&friends["items"], "id"), [ALICE.to_string()]);

    // The open requests, with their message; the answered ones are not requests any more.
    let open = |reqs: &Value| -> Vec<Value> {
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == 0)
            .cloned()
            .collect()
    };
    let reqs = get(api, &alice, "/api/user/friend/requests?limit=50").await;
    let list = open(&reqs);
    assert_eq!(list.len(), 1, "{reqs}");
    assert_eq!(field(&list[0], "from_user_id"), DAVE.to_string());
    assert_eq!(field(&list[0], "msg"), "hi, I am Dave");
    let reqs = get(api, &carol, "/api/user/friend/requests?limit=50").await;
    assert_eq!(open(&reqs).len(), 1, "{reqs}");

    // The group with its id, owner and the members that were imported.
    let groups = get(api, &carol, "/api/groups?limit=50").await;
    let list = groups["items"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{groups}");
    assert_eq!(field(&list[0], "id"), TEAM.to_string());
    assert_eq!(field(&list[0], "owner_id"), ALICE.to_string());
    let members = get(
        api,
        &alice,
        &format!("/api/group/members?group_id={TEAM}&limit=50"),
    )
    .await;
    assert_eq!(
        ids(&members["items"], "id"),
        [ALICE.to_string(), BOB.to_string(), CAROL.to_string()]
    );
    // The group's flags: join_check is approval, status 1 is everyone muted; Bob's status 1
    // is a mute, Carol's be_quiet a muted conversation, Alice's sort a pinned one.
    let info = get(api, &alice, &format!("/api/group/info?group_id={TEAM}")).await;
    assert_eq!(
        (&info["join_policy"], &info["mute_all"]),
        (&json!("approval"), &json!(true)),
        "{info}"
    );
    let muted: Vec<(String, bool)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (field(m, "id"), m["muted_until"].as_i64().unwrap() > 0))
        .collect();
    assert!(muted.contains(&(BOB.to_string(), true)), "{members}");
    assert!(muted.contains(&(CAROL.to_string(), false)), "{members}");
    let team = |list: &Value| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| field(c, "peer_id") == TEAM.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("the group in {list}"))
    };
    let convs = get(api, &carol, "/api/conversations?limit=50").await;
    let c = team(&convs);
    assert_eq!(
        (&c["muted"], &c["pinned"]),
        (&json!(true), &json!(false)),
        "{c}"
    );
    let convs = get(api, &alice, "/api/conversations?limit=50").await;
    let c = team(&convs);
    assert_eq!(
        (&c["muted"], &c["pinned"]),
        (&json!(false), &json!(true)),
        "{c}"
    );
    // Alice's remark on Bob, hers alone.
    let friends = get(api, &alice, "/api/user/friends?limit=50").await;
    let bob_row = friends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| field(f, "id") == BOB.to_string())
        .cloned()
        .unwrap();
    assert_eq!(bob_row["remark"], "Bobby", "{friends}");

    // The new server's own "erin" is untouched.
    let (status, _) = login(api, "erin", PASSWORD).await;
    assert_eq!(status, 200);
    assert_ne!(erin_here.id, ERIN.to_string());

    // An imported user chats at once, with the id its client stored.
    let (_, v) = login(api, "bob", "bob-pw").await;
    let bob = User {
        id: BOB.to_string(),
        token: v["data"]["access_token"].as_str().unwrap().to_owned(),
    };
    let a = User {
        id: ALICE.to_string(),
        token: alice.clone(),
    };
    let mut ca = Client::login(p.im, Kind::Lines, &a).await;
    let mut cb = Client::login(p.im, Kind::FramedProto, &bob).await;
    ca.send(&text(
        &a,
        &bob.id,
        easyim_proto::ChatType::Single,
        "m1",
        1,
        "hi",
    ))
    .await;
    // alice and bob are friends: alice may be told first that bob came online (PRESENCE).
    let ack = loop {
        let m = ca.recv().await;
        if m.msg_type != easyim_proto::MsgType::Presence as i32 {
            break m;
        }
        assert_eq!(m.from_user_id, bob.id, "{m:?}");
    };
    assert_eq!(ack.id, "m1");
    assert_eq!(cb.recv().await.content, "hi");
    drop((ca, cb));
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // A second run changes nothing.
    let out = import(dir.path(), &["--import-original", "sqlite3.db"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "users: 0 imported, 4 already there, 1 skipped",
        "friendships: 0 imported, 2 already there, 1 skipped",
        "friend requests: 0 imported, 2 already there, 1 skipped",
        "groups: 0 imported, 1 already there, 1 skipped",
        "group members: 0 imported, 3 already there, 3 skipped",
    ] {
        assert!(report.contains(line), "{line:?} in\n{report}");
    }
    assert!(stored_hash(&db, ALICE).starts_with("$argon2id$"));
}

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

/// The original's schema as its ORM created it on PostgreSQL (`bool`, `timestamp`,
/// `smallint`).
const PG_SCHEMA: &str = "
CREATE TABLE users (id BIGINT PRIMARY KEY NOT NULL, created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL, salt VARCHAR(64) NOT NULL, password_hash VARCHAR(64) NOT NULL,
  account VARCHAR(64) NOT NULL UNIQUE, name VARCHAR(32) NOT NULL, mobile VARCHAR(32) NOT NULL,
  email VARCHAR(32) NOT NULL, avatar VARCHAR(500) NOT NULL, remote_addr VARCHAR(32) NOT NULL);
CREATE TABLE friends (id BIGINT PRIMARY KEY NOT NULL, created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL, user_id BIGINT NOT NULL, friend_id BIGINT NOT NULL,
  remark VARCHAR(64) NOT NULL, sort INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE friend_add_logs (id BIGINT PRIMARY KEY NOT NULL, created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL, user_id BIGINT NOT NULL, friend_id BIGINT NOT NULL,
  msg VARCHAR(64) NOT NULL, status SMALLINT DEFAULT 0 NOT NULL);
CREATE TABLE chat_groups (id BIGINT PRIMARY KEY NOT NULL, created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL, user_id BIGINT NOT NULL, name VARCHAR(64) NOT NULL,
  join_check BOOL DEFAULT false NOT NULL, status SMALLINT DEFAULT 0 NOT NULL);
CREATE TABLE chat_group_users (id BIGINT PRIMARY KEY NOT NULL, created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL, group_id BIGINT NOT NULL, user_id BIGINT NOT NULL,
  status SMALLINT DEFAULT 0 NOT NULL, sort INTEGER DEFAULT 0 NOT NULL, be_quiet BOOL NOT NULL);
";

#[tokio::test]
async fn an_original_postgres_installation_is_imported() {
    let Ok(url) = std::env::var("EASYIM_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "EASYIM_TEST_PG must be set when CI is"
        );
        eprintln!("!!! an_original_postgres_installation_is_imported: SKIPPED (no EASYIM_TEST_PG)");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("easyim_orig_{}_{nanos}", std::process::id());
    let (pg, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    pg.batch_execute(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}; {PG_SCHEMA}"
    ))
    .await
    .unwrap();
    for (id, account, name, pw) in [
        (ALICE, "alice", "Alice", "alice-pw"),
        (BOB, "bob", "Bob", "bob-pw"),
    ] {
        pg.execute(
            "INSERT INTO users VALUES ($1, now(), now(), 's', $2, $3, $4, '', $5, '', '')",
            &[
                &id,
                &original_hash(pw),
                &account,
                &name,
                &format!("{account}@example.com"),
            ],
        )
        .await
        .unwrap();
    }
    pg.batch_execute(&format!(
        "INSERT INTO friends VALUES (1, now(), now(), {ALICE}, {BOB}, 'b', 0);
         INSERT INTO chat_groups VALUES ({TEAM}, now(), now(), {ALICE}, 'team', true, 0);
         INSERT INTO chat_group_users VALUES (1, now(), now(), {TEAM}, {ALICE}, 0, 0, false);
         INSERT INTO chat_group_users VALUES (2, now(), now(), {TEAM}, {BOB}, 0, 0, true);"
    ))
    .await
    .unwrap();

    let source = format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    );
    let storage: std::sync::Arc<dyn easyim_core::Storage> =
        std::sync::Arc::new(easyim_core::MemoryStorage::new());
    let report = easyim_server::import_original(&source, storage.clone(), 1)
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
    assert!(
        report.not_kept.keys().all(|k| k.starts_with("users.")),
        "only the users' contact details are not kept: {report}"
    );
    // The flags read from PostgreSQL's booleans: join_check, be_quiet; and the remark.
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
    let again = easyim_server::import_original(&source, storage, 1)
        .await
        .unwrap();
    assert!(again.changed_nothing(), "{again}");
    pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
