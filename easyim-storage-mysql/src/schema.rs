//! The schema: versioned migrations and how they are applied.
//!
//! Each entry of [`MIGRATIONS`] brings the schema from version `i` to `i + 1`; a later version
//! appends an entry and never edits an earlier one. [`migrate`] applies what is missing while
//! holding a named lock (`GET_LOCK`, named after the database's MD5, as MySQL takes at most
//! 64 characters), so several nodes starting at once migrate
//! once, one after the other. MySQL commits each `CREATE` and `ALTER` by itself, so a version
//! is recorded in `easyim_schema_version` only after all its statements ran, and each
//! statement of a version can run again (`IF NOT EXISTS`) should a migration be cut short.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::DbError;
use crate::rows::vals;

/// The table options of every table: InnoDB, `utf8mb4` compared byte for byte.
macro_rules! table {
    ($body:literal) => {
        concat!(
            $body,
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )
    };
}

/// The schema, one entry (a list of statements) per version.
///
/// Version 1, everything the storage traits need at once, laid out as on PostgreSQL: one row
/// per message (`messages`, numbered by `gseq` in insertion order and by `conv_seq` within its
/// conversation), one row per conversation (`convs`, whose row lock serializes the writers of
/// that conversation and hands out `conv_seq`), and one cursor per user and conversation
/// (`cursors`): a message is pending for a user while its `conv_seq` lies past the user's
/// `arrived_seq`. There is never a row per recipient, so a group message costs the same
/// whatever the size of the group. MySQL has no partial unique index: "one open request per
/// pair" is a unique index on a generated column that is `NULL` once the request is answered.
pub(crate) const MIGRATIONS: &[&[&str]] = &[&[
    table!(
        "CREATE TABLE IF NOT EXISTS users (
            id            BIGINT       NOT NULL PRIMARY KEY,
            account       VARCHAR(255) NOT NULL,
            nickname      TEXT         NOT NULL,
            avatar        TEXT         NOT NULL,
            password_hash TEXT         NOT NULL,
            secret        TEXT         NOT NULL,
            UNIQUE KEY users_account (account)
        )"
    ),
    table!(
        "CREATE TABLE IF NOT EXISTS settings (
            name  VARCHAR(64) NOT NULL PRIMARY KEY,
            value TEXT        NOT NULL
        )"
    ),
    // `seq` keeps arrival order, so 'newest first' does not depend on the ids.
    table!(
        "CREATE TABLE IF NOT EXISTS friend_requests (
            seq       BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            id        BIGINT NOT NULL,
            from_user BIGINT NOT NULL,
            to_user   BIGINT NOT NULL,
            msg       TEXT   NOT NULL,
            status    INT    NOT NULL,
            open_from BIGINT AS (IF(status = 0, from_user, NULL)) STORED,
            UNIQUE KEY friend_requests_id (id),
            KEY friend_requests_to (to_user, seq),
            UNIQUE KEY friend_requests_open (open_from, to_user)
        )"
    ),
    // Both directions of each friendship, each with its user's remark on the other.
    table!(
        "CREATE TABLE IF NOT EXISTS friends (
            user_id   BIGINT NOT NULL,
            friend_id BIGINT NOT NULL,
            remark    TEXT   NOT NULL,
            PRIMARY KEY (user_id, friend_id)
        )"
    ),
    table!(
        "CREATE TABLE IF NOT EXISTS chat_groups (
            id              BIGINT  NOT NULL PRIMARY KEY,
            name            TEXT    NOT NULL,
            owner           BIGINT  NOT NULL,
            avatar          TEXT    NOT NULL,
            notice          TEXT    NOT NULL,
            join_policy     INT     NOT NULL DEFAULT 0,
            invite_policy   INT     NOT NULL DEFAULT 0,
            history_visible INT     NOT NULL DEFAULT 0,
            mute_all        BOOLEAN NOT NULL DEFAULT FALSE
        )"
    ),
    // role: 0 member, 1 admin (the owner is chat_groups.owner); joined_seq: the group's last
    // conv_seq when the member joined.
    table!(
        "CREATE TABLE IF NOT EXISTS members (
            group_id    BIGINT NOT NULL,
            user_id     BIGINT NOT NULL,
            role        INT    NOT NULL DEFAULT 0,
            muted_until BIGINT NOT NULL DEFAULT 0,
            joined_seq  BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, user_id),
            KEY members_user (user_id, group_id)
        )"
    ),
    // The last conv_seq handed out in each conversation ('d:low:high' or 'g:id'). Its row
    // lock, held until commit, serializes the writers of one conversation on every node.
    table!(
        "CREATE TABLE IF NOT EXISTS convs (
            conv     VARCHAR(64) NOT NULL PRIMARY KEY,
            last_seq BIGINT      NOT NULL
        )"
    ),
    // gseq: insertion order over all conversations, the `order` of pending messages. It is
    // given while the conversation's row lock is held, so within a conversation it follows
    // conv_seq.
    table!(
        "CREATE TABLE IF NOT EXISTS messages (
            gseq      BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
            conv      VARCHAR(64)  NOT NULL,
            conv_seq  BIGINT       NOT NULL,
            msg_id    VARCHAR(255) NOT NULL,
            from_user BIGINT       NOT NULL,
            to_id     BIGINT       NOT NULL,
            chat_type INT          NOT NULL,
            msg_type  INT          NOT NULL,
            content   MEDIUMTEXT   NOT NULL,
            ts        BIGINT       NOT NULL,
            ref_id    VARCHAR(255) NOT NULL DEFAULT '',
            recalled  BOOLEAN      NOT NULL DEFAULT FALSE,
            edited_at BIGINT       NOT NULL DEFAULT 0,
            UNIQUE KEY messages_seq (conv, conv_seq),
            UNIQUE KEY messages_id (conv, msg_id)
        )"
    ),
    // A message of `conv` is pending for `user_id` while its conv_seq > arrived_seq. own_seq:
    // the user's own newest message there; hidden_seq: the conversation's last_seq when the
    // user hid it (-1: not hidden).
    table!(
        "CREATE TABLE IF NOT EXISTS cursors (
            user_id     BIGINT      NOT NULL,
            conv        VARCHAR(64) NOT NULL,
            arrived_seq BIGINT      NOT NULL,
            read_seq    BIGINT      NOT NULL,
            own_seq     BIGINT      NOT NULL DEFAULT 0,
            pinned      BOOLEAN     NOT NULL DEFAULT FALSE,
            muted       BOOLEAN     NOT NULL DEFAULT FALSE,
            hidden_seq  BIGINT      NOT NULL DEFAULT -1,
            PRIMARY KEY (user_id, conv),
            KEY cursors_conv (conv)
        )"
    ),
    // Refresh-token families, each at a generation (a refresh token is good once).
    table!(
        "CREATE TABLE IF NOT EXISTS refresh_families (
            user_id    BIGINT NOT NULL,
            family     BIGINT NOT NULL,
            generation BIGINT NOT NULL,
            PRIMARY KEY (user_id, family)
        )"
    ),
    // `user_id` blocked `blocked_id`.
    table!(
        "CREATE TABLE IF NOT EXISTS blocks (
            user_id    BIGINT NOT NULL,
            blocked_id BIGINT NOT NULL,
            PRIMARY KEY (user_id, blocked_id)
        )"
    ),
    // Requests to join a group on approval; status 0 open, 1 accepted, 2 refused; at most one
    // open request per user and group.
    table!(
        "CREATE TABLE IF NOT EXISTS join_requests (
            id         BIGINT NOT NULL PRIMARY KEY,
            group_id   BIGINT NOT NULL,
            user_id    BIGINT NOT NULL,
            status     INT    NOT NULL,
            open_group BIGINT AS (IF(status = 0, group_id, NULL)) STORED,
            UNIQUE KEY join_requests_open (open_group, user_id),
            KEY join_requests_group (group_id, status, id)
        )"
    ),
    // The messages each user deleted from its own view.
    table!(
        "CREATE TABLE IF NOT EXISTS hidden (
            user_id  BIGINT      NOT NULL,
            conv     VARCHAR(64) NOT NULL,
            conv_seq BIGINT      NOT NULL,
            PRIMARY KEY (user_id, conv, conv_seq)
        )"
    ),
    // Push devices, one row per token (a token is one device, owned by one user at a time).
    // A token may be longer than an index key: the key is its SHA-256.
    table!(
        "CREATE TABLE IF NOT EXISTS devices (
            token_key  BINARY(32)  NOT NULL PRIMARY KEY,
            token      TEXT        NOT NULL,
            user_id    BIGINT      NOT NULL,
            platform   VARCHAR(64) NOT NULL,
            updated_at BIGINT      NOT NULL,
            KEY devices_user (user_id, updated_at)
        )"
    ),
    // The webhook outbox: events written in the transaction of what they report, until
    // delivered. `ev_key` orders delivery (a conversation, a user); `due_ms` is the next try,
    // `lease_ms` the end of the current claim.
    table!(
        "CREATE TABLE IF NOT EXISTS outbox (
            id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
            kind       VARCHAR(64)  NOT NULL,
            ev_key     VARCHAR(255) NOT NULL,
            data       MEDIUMTEXT   NOT NULL,
            created_ms BIGINT       NOT NULL,
            attempts   INT          NOT NULL DEFAULT 0,
            due_ms     BIGINT       NOT NULL DEFAULT 0,
            lease_ms   BIGINT       NOT NULL DEFAULT 0,
            KEY outbox_key (ev_key, id)
        )"
    ),
    // The row whose lock serializes the outbox's claims (see outbox.rs).
    "INSERT INTO settings (name, value) VALUES ('outbox_claims', '')
     ON DUPLICATE KEY UPDATE name = name",
]];

/// How long a node waits for another to finish migrating, in seconds.
const LOCK_WAIT_SECS: i64 = 120;

/// Brings the schema to the current version under the database's migration lock.
pub(crate) async fn migrate(conn: &mut Conn) -> Result<(), DbError> {
    let lock: Option<i64> = conn
        .exec_first(
            "SELECT GET_LOCK(CONCAT('easyim_migrate_', MD5(DATABASE())), ?)",
            vals![LOCK_WAIT_SECS],
        )
        .await?;
    if lock != Some(1) {
        return Err(DbError::Storage(
            easyim_core::StorageError::unavailable_msg(
                "MySQL: another node held the migration lock too long",
            ),
        ));
    }
    let outcome = migrate_locked(conn).await;
    let released = conn
        .query_drop("DO RELEASE_LOCK(CONCAT('easyim_migrate_', MD5(DATABASE())))")
        .await;
    outcome?;
    Ok(released?)
}

async fn migrate_locked(conn: &mut Conn) -> Result<(), DbError> {
    conn.query_drop(table!(
        "CREATE TABLE IF NOT EXISTS easyim_schema_version (
            version    INT       NOT NULL PRIMARY KEY,
            applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
        )"
    ))
    .await?;
    let version: Option<i64> = conn
        .query_first("SELECT COALESCE(MAX(version), 0) FROM easyim_schema_version")
        .await?;
    let version = version.unwrap_or(0);
    let current = MIGRATIONS.len() as i64;
    if version > current {
        return Err(DbError::Storage(
            easyim_core::StorageError::unavailable_msg(format!(
                "the database has easyim schema version {version}, newer than this build's \
                 {current}"
            )),
        ));
    }
    for (i, statements) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let v = i as i64 + 1;
        for sql in *statements {
            conn.query_drop(*sql).await?;
        }
        conn.exec_drop(
            "INSERT INTO easyim_schema_version (version) VALUES (?)",
            vals![v],
        )
        .await?;
        tracing::info!(version = v, "MySQL schema migrated");
    }
    Ok(())
}
