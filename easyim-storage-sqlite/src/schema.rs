//! The schema and its migrations, and how the writer's and the readers' connections are opened
//! (WAL and the other pragmas).

use std::path::Path;
use std::time::Duration;

use easyim_core::StorageError;
use rusqlite::{Connection, OpenFlags};

use crate::error::DbError;
use crate::options::Synchronous;

/// How long a connection waits for a lock held by another connection or process.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one entry per version (`PRAGMA user_version`); a later version appends an entry.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, friends, groups, messages with a cursor per user and conversation.
    "
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        account       TEXT    NOT NULL UNIQUE,
        nickname      TEXT    NOT NULL,
        avatar        TEXT    NOT NULL,
        password_hash TEXT    NOT NULL,
        secret        TEXT    NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    -- rowid `seq` keeps arrival order, so 'newest first' does not depend on the ids.
    CREATE TABLE friend_requests (
        seq       INTEGER PRIMARY KEY,
        id        INTEGER NOT NULL UNIQUE,
        from_user INTEGER NOT NULL,
        to_user   INTEGER NOT NULL,
        msg       TEXT    NOT NULL,
        status    INTEGER NOT NULL
    );
    CREATE INDEX friend_requests_to ON friend_requests (to_user, seq);
    CREATE INDEX friend_requests_pair ON friend_requests (from_user, to_user, status);
    -- Both directions of each friendship.
    CREATE TABLE friends (
        user_id   INTEGER NOT NULL,
        friend_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, friend_id)
    ) WITHOUT ROWID;
    CREATE TABLE chat_groups (
        id    INTEGER PRIMARY KEY,
        name  TEXT    NOT NULL,
        owner INTEGER NOT NULL
    );
    CREATE TABLE members (
        group_id INTEGER NOT NULL REFERENCES chat_groups (id),
        user_id  INTEGER NOT NULL REFERENCES users (id),
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members (user_id, group_id);
    -- The last conv_seq handed out in each conversation ('d:low:high' or 'g:id').
    CREATE TABLE convs (
        conv     TEXT    PRIMARY KEY,
        last_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- gseq: commit order over all conversations (messages are never deleted, so the rowid only
    -- grows); it is the `order` of pending messages.
    CREATE TABLE messages (
        gseq      INTEGER PRIMARY KEY,
        conv      TEXT    NOT NULL,
        conv_seq  INTEGER NOT NULL,
        msg_id    TEXT    NOT NULL,
        from_user INTEGER NOT NULL,
        to_id     INTEGER NOT NULL,
        chat_type INTEGER NOT NULL,
        msg_type  INTEGER NOT NULL,
        content   TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        UNIQUE (conv, conv_seq),
        UNIQUE (conv, msg_id)
    );
    -- A message of `conv` is pending for `user_id` while its conv_seq > arrived_seq.
    CREATE TABLE cursors (
        user_id     INTEGER NOT NULL,
        conv        TEXT    NOT NULL,
        arrived_seq INTEGER NOT NULL,
        read_seq    INTEGER NOT NULL,
        PRIMARY KEY (user_id, conv)
    ) WITHOUT ROWID;
    ",
    // 2: conversations get an integer id, which messages and cursors refer to instead of the
    // text key (smaller rows and indexes, cheaper comparisons). `convs` no longer counts:
    // messages are never deleted, so a conversation's last conv_seq is its largest stored one
    // (one step down the (conv, conv_seq) index). The old tables are copied and dropped.
    "
    CREATE TABLE convs_v2 (
        id  INTEGER PRIMARY KEY,
        key TEXT    NOT NULL UNIQUE
    );
    INSERT INTO convs_v2 (key)
        SELECT conv FROM convs UNION SELECT conv FROM cursors UNION SELECT conv FROM messages;
    CREATE TABLE messages_v2 (
        gseq      INTEGER PRIMARY KEY,
        conv      INTEGER NOT NULL,
        conv_seq  INTEGER NOT NULL,
        msg_id    TEXT    NOT NULL,
        from_user INTEGER NOT NULL,
        to_id     INTEGER NOT NULL,
        chat_type INTEGER NOT NULL,
        msg_type  INTEGER NOT NULL,
        content   TEXT    NOT NULL,
        ts        INTEGER NOT NULL
    );
    INSERT INTO messages_v2 (gseq, conv, conv_seq, msg_id, from_user, to_id, chat_type,
                             msg_type, content, ts)
        SELECT m.gseq, c.id, m.conv_seq, m.msg_id, m.from_user, m.to_id, m.chat_type,
               m.msg_type, m.content, m.ts
        FROM messages m JOIN convs_v2 c ON c.key = m.conv
        ORDER BY m.gseq;
    CREATE TABLE cursors_v2 (
        user_id     INTEGER NOT NULL,
        conv        INTEGER NOT NULL,
        arrived_seq INTEGER NOT NULL,
        read_seq    INTEGER NOT NULL,
        PRIMARY KEY (user_id, conv)
    ) WITHOUT ROWID;
    INSERT INTO cursors_v2 (user_id, conv, arrived_seq, read_seq)
        SELECT k.user_id, c.id, k.arrived_seq, k.read_seq
        FROM cursors k JOIN convs_v2 c ON c.key = k.conv;
    DROP TABLE messages;
    DROP TABLE cursors;
    DROP TABLE convs;
    ALTER TABLE convs_v2 RENAME TO convs;
    ALTER TABLE messages_v2 RENAME TO messages;
    ALTER TABLE cursors_v2 RENAME TO cursors;
    CREATE UNIQUE INDEX messages_conv_seq ON messages (conv, conv_seq);
    CREATE UNIQUE INDEX messages_conv_msg_id ON messages (conv, msg_id);
    ",
    // 3: refresh-token families, each at a generation (a refresh token is good once).
    "
    CREATE TABLE refresh_families (
        user_id    INTEGER NOT NULL,
        family     INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        PRIMARY KEY (user_id, family)
    ) WITHOUT ROWID;
    ",
    // 4: conversation lists. Each cursor gets its user's own newest conv_seq in the
    // conversation, pinned, muted, and the conversation's last conv_seq when hidden (-1: not
    // hidden). The writer sets `own_seq` once per sender and conversation per transaction, not
    // per message (see `Cache::sent`); a conversation's last message is the top of its
    // (conv, conv_seq) index, so nothing else changes on the message path.
    "
    ALTER TABLE cursors ADD COLUMN own_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cursors ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cursors ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cursors ADD COLUMN hidden_seq INTEGER NOT NULL DEFAULT -1;
    UPDATE cursors SET own_seq = o.seq
        FROM (SELECT conv, from_user, max(conv_seq) AS seq FROM messages
              GROUP BY conv, from_user) AS o
        WHERE o.conv = cursors.conv AND o.from_user = cursors.user_id;
    ",
    // 5: group administration, blocks and friend remarks: the group's settings, each member's
    // role, mute and join position (the group's last conv_seq when it joined; 0 for the members before this
    // version, who keep seeing the whole history as before).
    "
    ALTER TABLE chat_groups ADD COLUMN avatar TEXT NOT NULL DEFAULT '';
    ALTER TABLE chat_groups ADD COLUMN notice TEXT NOT NULL DEFAULT '';
    ALTER TABLE chat_groups ADD COLUMN join_policy INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chat_groups ADD COLUMN invite_policy INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chat_groups ADD COLUMN history_visible INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chat_groups ADD COLUMN mute_all INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN role INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
    -- Blocks: `user_id` blocked `blocked_id`.
    CREATE TABLE blocks (
        user_id    INTEGER NOT NULL,
        blocked_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, blocked_id)
    ) WITHOUT ROWID;
    -- Requests to join a group on approval; status 0 open, 1 accepted, 2 refused. At most one
    -- open request per user and group.
    CREATE TABLE join_requests (
        id       INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL,
        user_id  INTEGER NOT NULL,
        status   INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX join_requests_open ON join_requests (group_id, user_id) WHERE status = 0;
    CREATE INDEX join_requests_group ON join_requests (group_id, status, id);
    -- A user's remark on a friend (its own direction of the friendship).
    ALTER TABLE friends ADD COLUMN remark TEXT NOT NULL DEFAULT '';
    ",
    // 6: a message's reference (reply, recall, edit), its recalled/edited state (kept on its
    // own row, updated in the commit that stores the RECALL or EDIT), and the messages each
    // user deleted from their own view.
    "
    ALTER TABLE messages ADD COLUMN ref_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN recalled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN edited_at INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE hidden (
        user_id  INTEGER NOT NULL,
        conv     INTEGER NOT NULL,
        conv_seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, conv, conv_seq)
    ) WITHOUT ROWID;
    ",
    // 7: push devices, one row per token (a token is one device, owned by one user at a time).
    "
    CREATE TABLE devices (
        token      TEXT    PRIMARY KEY,
        user_id    INTEGER NOT NULL,
        platform   TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX devices_user ON devices (user_id, updated_at, token);
    ",
    // 8: the webhook outbox: events written with what they report, until delivered. `key`
    // orders delivery (a conversation, a user); `due_ms` is the next try, `lease_ms` the end
    // of the current claim.
    "
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        data       TEXT    NOT NULL,
        created_ms INTEGER NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        due_ms     INTEGER NOT NULL DEFAULT 0,
        lease_ms   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_key ON outbox (key, id);
    ",
];

/// Creates the database file readable and writable by its owner only (0600) if it does not
/// exist yet: it holds password hashes and the token signing secret. SQLite gives the `-wal`
/// and `-shm` files it creates the database file's permissions.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn open_writer(path: &Path, synchronous: Synchronous) -> Result<Connection, DbError> {
    create_owner_only(path).map_err(|e| {
        DbError::Storage(StorageError::unavailable(
            format!("cannot create {}", path.display()),
            e,
        ))
    })?;
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Storage(StorageError::unavailable_msg(format!(
            "cannot use WAL (journal_mode is {mode})"
        ))));
    }
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The writer's working set (the tails of the message indexes of every busy conversation)
    // stays in its page cache: 64 MiB instead of the default 2 MiB.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints (which fsync) run on a thread of their own (see `Checkpointer`), so that no
    // commit waits for one; the writer checkpoints itself only if that thread falls far behind
    // (64 MiB of WAL).
    conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = MIGRATIONS.len() as i64;
    if version > current {
        return Err(DbError::Storage(StorageError::unavailable_msg(format!(
            "the database has schema version {version}, newer than this server's {current}"
        ))));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "SQLite schema migrated");
    }
    Ok(())
}

pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
