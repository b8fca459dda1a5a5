//! An original installation on MySQL (or MariaDB).

use mysql_async::prelude::Queryable;

use super::*;

/// The original's schema as its ORM created it on MySQL (`TINYINT(1)` booleans, `DATETIME`).
const MYSQL_SCHEMA: &str = "
CREATE TABLE `users` (`id` BIGINT(20) PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `salt` VARCHAR(64) NOT NULL, `password_hash` VARCHAR(64) NOT NULL,
  `account` VARCHAR(64) NOT NULL, `name` VARCHAR(32) NOT NULL, `mobile` VARCHAR(32) NOT NULL,
  `email` VARCHAR(32) NOT NULL, `avatar` VARCHAR(500) NOT NULL, `remote_addr` VARCHAR(32) NOT NULL,
  UNIQUE KEY `UQE_users_account` (`account`)) DEFAULT CHARSET utf8mb4;
CREATE TABLE `friends` (`id` BIGINT(20) PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` BIGINT(20) NOT NULL, `friend_id` BIGINT(20) NOT NULL,
  `remark` VARCHAR(64) NOT NULL, `sort` INT(11) DEFAULT 0 NOT NULL) DEFAULT CHARSET utf8mb4;
CREATE TABLE `friend_add_logs` (`id` BIGINT(20) PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` BIGINT(20) NOT NULL, `friend_id` BIGINT(20) NOT NULL,
  `msg` VARCHAR(64) NOT NULL, `status` TINYINT(4) DEFAULT 0 NOT NULL) DEFAULT CHARSET utf8mb4;
CREATE TABLE `chat_groups` (`id` BIGINT(20) PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `user_id` BIGINT(20) NOT NULL, `name` VARCHAR(64) NOT NULL,
  `join_check` TINYINT(1) DEFAULT 0 NOT NULL, `status` TINYINT(4) DEFAULT 0 NOT NULL)
  DEFAULT CHARSET utf8mb4;
CREATE TABLE `chat_group_users` (`id` BIGINT(20) PRIMARY KEY NOT NULL, `created_at` DATETIME NULL,
  `updated_at` DATETIME NULL, `group_id` BIGINT(20) NOT NULL, `user_id` BIGINT(20) NOT NULL,
  `status` TINYINT(4) DEFAULT 0 NOT NULL, `sort` INT(11) DEFAULT 0 NOT NULL,
  `be_quiet` TINYINT(1) NOT NULL) DEFAULT CHARSET utf8mb4;
";

#[tokio::test]
async fn an_original_mysql_installation_is_imported() {
    let Some(url) = easyim_core::testkit::service_url(
        "EASYIM_TEST_MYSQL",
        "an_original_mysql_installation_is_imported",
        "import from MySQL",
        "mysql://user:password@host:port/dbname",
    ) else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // The name is ours: [a-z0-9_] only.
    let db = format!("easyim_orig_{}_{nanos}", std::process::id());
    let opts = mysql_async::Opts::from_url(&url).expect("EASYIM_TEST_MYSQL is a mysql:// URL");
    let mut admin = mysql_async::Conn::new(opts.clone()).await.unwrap();
    admin
        .query_drop(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"))
        .await
        .unwrap();
    admin.query_drop(format!("USE {db}")).await.unwrap();
    admin.query_drop(MYSQL_SCHEMA).await.unwrap();
    for (id, account, name, pw) in [
        (ALICE, "alice", "Alice 刘", "alice-pw"),
        (BOB, "bob", "Bob", "bob-pw"),
    ] {
        admin
            .exec_drop(
                "INSERT INTO users VALUES (?, NOW(), NOW(), 's', ?, ?, ?, '', ?, '', '')",
                (
                    id,
                    original_hash(pw),
                    account,
                    name,
                    format!("{account}@example.com"),
                ),
            )
            .await
            .unwrap();
    }
    admin
        .query_drop(format!(
            "INSERT INTO friends VALUES (1, NOW(), NOW(), {ALICE}, {BOB}, 'b', 0);
             INSERT INTO friend_add_logs VALUES (1, NOW(), NOW(), {BOB}, {ALICE}, 'hi', 1);
             INSERT INTO chat_groups VALUES ({TEAM}, NOW(), NOW(), {ALICE}, 'team', 1, 1);
             INSERT INTO chat_group_users VALUES (1, NOW(), NOW(), {TEAM}, {ALICE}, 0, 0, 0);
             INSERT INTO chat_group_users VALUES (2, NOW(), NOW(), {TEAM}, {BOB}, 0, 1, 1);"
        ))
        .await
        .unwrap();

    let source = format!(
        "mysql://{}:{}@{}:{}/{db}",
        opts.user().unwrap_or_default(),
        opts.pass().unwrap_or_default(),
        opts.ip_or_hostname(),
        opts.tcp_port()
    );
    let (report, storage) = import_alice_bob_and_team(&source).await;
    assert_eq!(
        report.requests.imported, 0,
        "answered requests are history: {report}"
    );
    // TINYINT(1) and TINYINT flags: everyone muted, bob's pin; a name beyond ASCII.
    let settings = storage.group_settings(TEAM as u64).await.unwrap().unwrap();
    assert!(settings.mute_all, "{settings:?}");
    let bobs = storage.conversations(BOB as u64, None, 10).await.unwrap();
    assert!(bobs.items[0].pinned, "{bobs:?}");
    let alice = storage.user(ALICE as u64).await.unwrap().unwrap();
    assert_eq!(alice.nickname, "Alice 刘");

    // A database that is not an original installation: a clear error naming the table.
    admin.query_drop("DROP TABLE chat_groups").await.unwrap();
    let err = easyim_server::import_original(
        &source,
        std::sync::Arc::new(easyim_core::MemoryStorage::new()),
        1,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("chat_groups") && err.to_string().contains("MySQL"),
        "{err}"
    );
    admin
        .query_drop(format!("DROP DATABASE {db}"))
        .await
        .unwrap();
    let _ = admin.disconnect().await;
}
