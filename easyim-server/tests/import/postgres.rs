//! An original installation on PostgreSQL.

use super::*;

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
    let (report, _) = import_alice_bob_and_team(&source).await;
    assert!(
        report.not_kept.keys().all(|k| k.starts_with("users.")),
        "only the users' contact details are not kept: {report}"
    );
    pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
