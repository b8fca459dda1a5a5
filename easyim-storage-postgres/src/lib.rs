//! easyim-storage-postgres: easyim's [`Storage`] on PostgreSQL, for many easyim nodes sharing
//! one database.
//!
//! [`PgStorage`] talks to PostgreSQL with `tokio-postgres` through a `deadpool-postgres` pool.
//! [`PgStorage::connect`] (or [`PgStorage::from_url`]) opens the pool and brings the schema to
//! the current version: versioned migrations, applied in one transaction under an advisory
//! lock, so that any number of nodes may start at once.
//!
//! **One round trip per call.** Every `Storage` method is one SQL statement (a CTE, or a call of
//! a PL/pgSQL function the migrations install), so it costs one round trip and is one
//! transaction: it commits everything it describes or nothing. Every value travels as a bound
//! parameter. [`Storage::store_messages`] stores a whole batch in one statement.
//!
//! **`conv_seq` across nodes.** Each conversation has a row in `convs`; storing a message locks
//! it (`SELECT ... FOR UPDATE`, held until commit), checks idempotency under the lock, and takes
//! `last_seq + 1`. Writers of one conversation, on any node, are so serialized: `conv_seq` is
//! gapless and unique, and a resend racing its original is a `Duplicate`, never an error. A
//! batch locks its conversations in key order first, so two batches never deadlock.
//!
//! **Pending.** One row per message and one cursor per (user, conversation), never a row per
//! recipient: a message is pending for a user while its `conv_seq` is past the user's cursor.
//! The `order` of a pending message is `gseq`, drawn from a sequence while the conversation is
//! locked, so within a conversation it follows commit order exactly. Across conversations two
//! transactions in flight at the same moment may commit in the other order than their `gseq`;
//! a page of `pending` read at that moment may then pass over the message committing late. It
//! stays pending (no cursor moved), and the engine delivers it live: a session registers for
//! live deliveries before it replays `pending`, and holds them until the replay is done.
//!
//! **Errors.** A lost connection, a database error, a pool timeout: every backend failure is
//! [`StorageError::Unavailable`], never a panic. Deadlocks and serialization failures reported
//! by the server are retried a few times first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), easyim_core::StorageError> {
//! use std::sync::Arc;
//! use easyim_core::Storage;
//! use easyim_storage_postgres::PgStorage;
//!
//! let storage = PgStorage::from_url("postgres://easyim:secret@127.0.0.1:5432/easyim").await?;
//! let storage: Arc<dyn Storage> = Arc::new(storage);
//! storage.ping().await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use easyim_core::{
    AccountStore, Conflict, Conversation, Entity, FriendRequest, FriendStore, Group, GroupId,
    GroupStore, HistoryItem, HistoryPage, MessageStore, NewMessage, PendingMessage, Profile,
    Receipt, RequestStatus, StorageError, StoreOutcome, StoredMessage, User, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

mod schema;

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// How many times a call is retried when the server reports a deadlock or a serialization
/// failure (its transaction was rolled back, so a retry is safe).
const RETRIES: usize = 3;
/// How long a call waits for a free connection of the pool, and to open a new one.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

// ---- configuration -----------------------------------------------------------------------

/// Where [`PgStorage::connect`] finds the database, and how many connections it keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// Host name or IP address; a path starting with `/` is a Unix socket directory.
    pub host: String,
    /// TCP port (5432 by default).
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The user to log in as.
    pub user: String,
    /// Its password (empty for none).
    pub password: String,
    /// The most connections the pool opens (at least 1).
    pub pool_size: usize,
    /// A PostgreSQL schema to keep easyim's tables in (created if missing, and set as each
    /// connection's `search_path`); `None` uses the server's default `search_path`. Only
    /// lowercase ASCII letters, digits and `_`, not starting with a digit.
    pub schema: Option<String>,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            host: "127.0.0.1".to_owned(),
            port: 5432,
            dbname: "easyim".to_owned(),
            user: "easyim".to_owned(),
            password: String::new(),
            pool_size: 16,
            schema: None,
        }
    }
}

impl fmt::Debug for PgConfig {
    /// Everything but the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .finish()
    }
}

/// A configuration that [`PgConfig`] cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse as a PostgreSQL connection string.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The schema name is not a plain lowercase identifier.
    #[error("invalid schema name {0:?}: use lowercase ASCII letters, digits and _")]
    Schema(String),
}

impl From<ConfigError> for StorageError {
    fn from(e: ConfigError) -> Self {
        StorageError::unavailable("PostgreSQL configuration", e)
    }
}

impl PgConfig {
    /// Reads a `postgres://user:password@host:port/dbname` URL (or a `key=value` connection
    /// string); the first host and port are taken, the pool size is the default (16).
    pub fn from_url(url: &str) -> Result<PgConfig, ConfigError> {
        let pg =
            tokio_postgres::Config::from_str(url).map_err(|e| ConfigError::Url(e.to_string()))?;
        let host = match pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let user = pg.get_user().unwrap_or("postgres").to_owned();
        Ok(PgConfig {
            host,
            port: pg.get_ports().first().copied().unwrap_or(5432),
            dbname: pg.get_dbname().unwrap_or(&user).to_owned(),
            password: pg
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            user,
            ..PgConfig::default()
        })
    }

    fn checked_schema(&self) -> Result<Option<&str>, ConfigError> {
        let Some(s) = self.schema.as_deref() else {
            return Ok(None);
        };
        let ok = !s.is_empty()
            && s.len() <= 63
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Some(s))
        } else {
            Err(ConfigError::Schema(s.to_owned()))
        }
    }

    fn tokio_postgres(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name("easyim")
            .connect_timeout(POOL_TIMEOUT);
        if !self.password.is_empty() {
            pg.password(&self.password);
        }
        if let Some(schema) = self.checked_schema()? {
            pg.options(format!("-c search_path={schema}"));
        }
        Ok(pg)
    }
}

// ---- errors --------------------------------------------------------------------------------

/// What a call fails with before it becomes a [`StorageError`].
#[derive(Debug, thiserror::Error)]
enum DbError {
    /// The server or the connection failed (or answered with a contract error, see `From`).
    #[error("PostgreSQL: {0}")]
    Pg(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] PoolError),
    /// An answer of the `Storage` contract.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DbError {
    /// A deadlock or serialization failure: the transaction was rolled back, retry it.
    fn retryable(&self) -> bool {
        match self {
            DbError::Pg(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }
}

/// The object the functions of the schema name in their `EI404` errors.
fn missing(s: &str) -> Option<Entity> {
    Some(match s {
        "user" => Entity::User,
        "group" => Entity::Group,
        "member" => Entity::Member,
        "request" => Entity::Request,
        "friend" => Entity::Friend,
        _ => return None,
    })
}

/// The conflict the functions of the schema name in their `EI409` errors.
fn conflict(s: &str) -> Option<Conflict> {
    Some(match s {
        "user" => Conflict::User,
        "group" => Conflict::Group,
        "request" => Conflict::Request,
        "friend" => Conflict::AlreadyFriends,
        "answer" => Conflict::AlreadyAnswered,
        "account" => Conflict::Account,
        _ => return None,
    })
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Storage(e) => e,
            DbError::Pg(pg) => {
                if let Some(db) = pg.as_db_error() {
                    let code = db.code().code();
                    if let Some(e) = missing(db.message()).filter(|_| code == "EI404") {
                        return StorageError::NotFound(e);
                    }
                    if let Some(c) = conflict(db.message()).filter(|_| code == "EI409") {
                        return StorageError::Conflict(c);
                    }
                }
                tracing::warn!(error = %pg, "PostgreSQL failure");
                StorageError::unavailable("PostgreSQL", pg)
            }
            DbError::Pool(e) => {
                tracing::warn!(error = %e, "PostgreSQL pool failure");
                StorageError::unavailable("PostgreSQL pool", e)
            }
        }
    }
}

// ---- the storage ---------------------------------------------------------------------------

/// easyim's [`Storage`] on PostgreSQL; see the [crate docs](crate) for how it works.
///
/// Cheap to share as `Arc<dyn Storage>`: calls run concurrently on the pool's connections.
/// Several `PgStorage`s, in one process or on many nodes, may share one database.
pub struct PgStorage {
    pool: Pool,
    config: PgConfig,
}

impl fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStorage")
            .field("config", &self.config)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish()
    }
}

impl PgStorage {
    /// Opens a pool of up to `config.pool_size` connections and brings the schema to the
    /// current version (creating `config.schema` first if it is set). `Unavailable` if the
    /// database cannot be reached, the configuration is invalid, or the database holds a newer
    /// schema than this build knows.
    pub async fn connect(config: PgConfig) -> Result<PgStorage> {
        let pg = config.tokio_postgres()?;
        let schema = config.checked_schema()?.map(str::to_owned);
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StorageError::unavailable("PostgreSQL pool", e))?;
        let storage = PgStorage { pool, config };
        let mut client = storage.client().await?;
        schema::migrate(&mut client, schema.as_deref()).await?;
        tracing::info!(
            host = %storage.config.host,
            port = storage.config.port,
            dbname = %storage.config.dbname,
            schema = ?storage.config.schema,
            "PostgreSQL storage open"
        );
        Ok(storage)
    }

    /// [`PgStorage::connect`] with [`PgConfig::from_url`].
    pub async fn from_url(url: &str) -> Result<PgStorage> {
        PgStorage::connect(PgConfig::from_url(url)?).await
    }

    /// The configuration the storage was opened with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    async fn client(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// Runs one statement and returns its rows, retrying deadlocks and serialization failures.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, DbError> {
        let mut attempt = 0;
        loop {
            let result = async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(sql).await?;
                Ok::<_, DbError>(client.query(&stmt, params).await?)
            }
            .await;
            match result {
                Err(e) if e.retryable() && attempt < RETRIES => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "PostgreSQL: retrying");
                }
                other => return other,
            }
        }
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, DbError> {
        self.query_opt(sql, params).await?.ok_or_else(|| {
            DbError::Storage(StorageError::unavailable_msg(
                "PostgreSQL returned no row where one was expected",
            ))
        })
    }

    /// Runs one statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, DbError> {
        let mut attempt = 0;
        loop {
            let result = async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(sql).await?;
                Ok::<_, DbError>(client.execute(&stmt, params).await?)
            }
            .await;
            match result {
                Err(e) if e.retryable() && attempt < RETRIES => attempt += 1,
                other => return other,
            }
        }
    }
}

// ---- row helpers ---------------------------------------------------------------------------

/// Ids are snowflakes below 2^63, stored as `bigint`.
fn id(n: u64) -> i64 {
    n as i64
}

/// Counters and limits beyond `i64::MAX` clamp to it.
fn to_i64<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn uid(r: &Row, i: usize) -> u64 {
    r.get::<_, i64>(i) as u64
}

fn chat_type(n: i32) -> ChatType {
    ChatType::try_from(n).unwrap_or(ChatType::Single)
}

const USER_COLUMNS: &str = "id, account, nickname, avatar, password_hash, secret";

fn user_row(r: &Row) -> User {
    User {
        id: uid(r, 0),
        account: r.get(1),
        nickname: r.get(2),
        avatar: r.get(3),
        password_hash: r.get(4),
        secret: r.get(5),
    }
}

fn profile_row(r: &Row) -> Profile {
    Profile {
        id: uid(r, 0),
        account: r.get(1),
        nickname: r.get(2),
        avatar: r.get(3),
    }
}

const REQUEST_COLUMNS: &str = "id, from_user, to_user, msg, status";

fn request_row(r: &Row) -> FriendRequest {
    FriendRequest {
        id: uid(r, 0),
        from: uid(r, 1),
        to: uid(r, 2),
        msg: r.get(3),
        status: RequestStatus::from_i64(i64::from(r.get::<_, i32>(4))),
    }
}

fn group_row(r: &Row) -> Group {
    Group {
        id: uid(r, 0),
        name: r.get(1),
        owner: uid(r, 2),
        member_count: uid(r, 3),
    }
}

/// The columns [`message_row`] reads, from `messages m`, starting at index `at`.
const MESSAGE_COLUMNS: &str =
    "m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type, m.content, m.ts";

fn message_row(r: &Row, at: usize) -> StoredMessage {
    StoredMessage {
        id: r.get(at),
        conv_seq: uid(r, at + 1),
        from: uid(r, at + 2),
        to: uid(r, at + 3),
        chat_type: chat_type(r.get(at + 4)),
        msg_type: r.get(at + 5),
        content: r.get(at + 6),
        timestamp: r.get(at + 7),
    }
}

fn rows<T>(rows: Vec<Row>, f: impl Fn(&Row) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

const PENDING_SQL: &str = "
    SELECT m.gseq, m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type,
           m.content, m.ts
    FROM cursors c
    JOIN messages m ON m.conv = c.conv AND m.conv_seq > c.arrived_seq
    WHERE c.user_id = $1 AND m.gseq > $2 AND m.from_user <> $1
    ORDER BY m.gseq
    LIMIT $3";

/// A page of history with, for 1:1 messages, the recipient's cursor.
fn history_sql(newest_first: bool) -> String {
    let (cmp, dir) = if newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    format!(
        "SELECT {MESSAGE_COLUMNS}, c.arrived_seq, c.read_seq
         FROM messages m
         LEFT JOIN cursors c ON m.chat_type = 0 AND c.conv = m.conv AND c.user_id = m.to_id
         WHERE m.conv = $1 AND m.conv_seq {cmp} $2
         ORDER BY m.conv_seq {dir}
         LIMIT $3"
    )
}

/// The message named by a receipt, if `reader` was one of its recipients; the reader's cursor
/// moves forward to it in the same statement.
const RECEIPT_SQL: &str = "
    WITH m AS (
        SELECT m.msg_id, m.conv_seq, m.from_user, m.to_id, m.chat_type, m.msg_type, m.content,
               m.ts
        FROM messages m
        WHERE m.conv = $2 AND m.msg_id = $3 AND m.from_user <> $1
          AND CASE WHEN $5::bigint IS NULL THEN $1 IN ($6::bigint, $7::bigint)
                   ELSE EXISTS (SELECT 1 FROM members WHERE group_id = $5 AND user_id = $1)
              END
    ), moved AS (
        INSERT INTO cursors (user_id, conv, arrived_seq, read_seq)
        SELECT $1, $2, conv_seq, CASE WHEN $4 THEN conv_seq ELSE 0 END FROM m
        ON CONFLICT (user_id, conv) DO UPDATE SET
            arrived_seq = greatest(cursors.arrived_seq, excluded.arrived_seq),
            read_seq = greatest(cursors.read_seq, excluded.read_seq)
    )
    SELECT msg_id, conv_seq, from_user, to_id, chat_type, msg_type, content, ts FROM m";

const STORE_SQL: &str = "
    SELECT o_idx, o_outcome, o_conv_seq, o_msg_type, o_content, o_ts, o_recipients
    FROM easyim_store_messages($1, $2, $3, $4, $5, $6, $7, $8)
    ORDER BY o_idx";

/// Turns the function's row for `msg` into its outcome.
fn store_outcome(msg: NewMessage, r: &Row) -> StoreOutcome {
    let outcome: i32 = r.get(1);
    match outcome {
        0 => {
            let recipients: Vec<i64> = r.get::<_, Option<Vec<i64>>>(6).unwrap_or_default();
            StoreOutcome::Stored {
                message: StoredMessage {
                    id: msg.id,
                    conv_seq: r.get::<_, i64>(2) as u64,
                    from: msg.from,
                    to: msg.to,
                    chat_type: msg.chat_type,
                    msg_type: msg.msg_type,
                    content: msg.content,
                    timestamp: msg.timestamp,
                },
                recipients: recipients.into_iter().map(|u| u as u64).collect(),
            }
        }
        1 => StoreOutcome::Duplicate(StoredMessage {
            id: msg.id,
            conv_seq: r.get::<_, i64>(2) as u64,
            from: msg.from,
            to: msg.to,
            chat_type: msg.chat_type,
            msg_type: r.get(3),
            content: r.get(4),
            timestamp: r.get(5),
        }),
        2 => StoreOutcome::NoUser,
        3 => StoreOutcome::NoGroup,
        4 => StoreOutcome::NotMember,
        _ => StoreOutcome::IdTaken,
    }
}

// ---- the Storage implementation ------------------------------------------------------------

#[async_trait]
impl AccountStore for PgStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let n = self
            .execute(
                &format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &id(user.id),
                    &user.account,
                    &user.nickname,
                    &user.avatar,
                    &user.password_hash,
                    &user.secret,
                ],
            )
            .await?;
        if n == 1 {
            return Ok(user);
        }
        // Refused: say which of the two unique keys was taken (a second round trip, on the
        // refusal path only).
        let taken: bool = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE account = $1)",
                &[&user.account],
            )
            .await?
            .get(0);
        Err(StorageError::Conflict(if taken {
            Conflict::Account
        } else {
            Conflict::User
        }))
    }

    async fn user(&self, user: UserId) -> Result<Option<User>> {
        let row = self
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&id(user)],
            )
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let row = self
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE account = $1"),
                &[&account],
            )
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    async fn set_user_secret(&self, user: UserId, secret: &str) -> Result<()> {
        let n = self
            .execute(
                "UPDATE users SET secret = $2 WHERE id = $1",
                &[&id(user), &secret],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NotFound(Entity::User));
        }
        Ok(())
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // strpos() is case-sensitive, unlike ILIKE, and needs no escaping of % and _.
        let found = self
            .query(
                "SELECT id, account, nickname, avatar FROM users
                 WHERE strpos(account, $1) > 0 ORDER BY id LIMIT $2",
                &[&query, &to_i64(limit)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        // DO UPDATE (to the same value) returns the stored row, also when another node stored
        // it a moment ago; DO NOTHING would return nothing then.
        let row = self
            .query_one(
                "INSERT INTO settings (key, value) VALUES ('server_secret', $1)
                 ON CONFLICT (key) DO UPDATE SET value = settings.value
                 RETURNING value",
                &[&candidate],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn ping(&self) -> Result<()> {
        self.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}

#[async_trait]
impl FriendStore for PgStorage {
    async fn create_friend_request(
        &self,
        request: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let row = self
            .query_one(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM easyim_create_friend_request($1, $2, $3, $4)"
                ),
                &[&id(request), &id(from), &id(to), &msg],
            )
            .await?;
        Ok(request_row(&row))
    }

    async fn friend_requests(&self, to: UserId) -> Result<Vec<FriendRequest>> {
        let found = self
            .query(
                &format!(
                    "SELECT {REQUEST_COLUMNS} FROM friend_requests
                     WHERE to_user = $1 ORDER BY seq DESC"
                ),
                &[&id(to)],
            )
            .await?;
        Ok(rows(found, request_row))
    }

    async fn answer_friend_request(
        &self,
        request: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        let row = self
            .query_one(
                &format!("SELECT {REQUEST_COLUMNS} FROM easyim_answer_friend_request($1, $2, $3)"),
                &[&id(request), &id(to), &accept],
            )
            .await?;
        Ok(request_row(&row))
    }

    async fn friends(&self, user: UserId) -> Result<Vec<Profile>> {
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM friends f JOIN users u ON u.id = f.friend_id
                 WHERE f.user_id = $1 ORDER BY u.id",
                &[&id(user)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let n = self
            .execute(
                "DELETE FROM friends WHERE (user_id = $1 AND friend_id = $2)
                                        OR (user_id = $2 AND friend_id = $1)",
                &[&id(user), &id(friend)],
            )
            .await?;
        if n == 0 {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        Ok(())
    }
}

#[async_trait]
impl GroupStore for PgStorage {
    async fn create_group(
        &self,
        group: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
    ) -> Result<Group> {
        let members: Vec<i64> = members.iter().map(|&m| id(m)).collect();
        let conv = Conversation::Group(group).key();
        let row = self
            .query_one(
                "SELECT easyim_create_group($1, $2, $3, $4, $5)",
                &[&id(group), &conv, &name, &id(owner), &members],
            )
            .await?;
        Ok(Group {
            id: group,
            name: name.to_owned(),
            owner,
            member_count: row.get::<_, i64>(0) as u64,
        })
    }

    async fn add_members(&self, group: GroupId, users: &[UserId]) -> Result<()> {
        let users: Vec<i64> = users.iter().map(|&u| id(u)).collect();
        let conv = Conversation::Group(group).key();
        self.query(
            "SELECT easyim_add_members($1, $2, $3)",
            &[&id(group), &conv, &users],
        )
        .await?;
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()> {
        let conv = Conversation::Group(group).key();
        self.query(
            "SELECT easyim_remove_member($1, $2, $3)",
            &[&id(group), &conv, &id(user)],
        )
        .await?;
        Ok(())
    }

    async fn group(&self, group: GroupId) -> Result<Option<Group>> {
        let row = self
            .query_opt(
                "SELECT g.id, g.name, g.owner,
                        (SELECT count(*) FROM members n WHERE n.group_id = g.id)
                 FROM chat_groups g WHERE g.id = $1",
                &[&id(group)],
            )
            .await?;
        Ok(row.as_ref().map(group_row))
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>> {
        let found = self
            .query(
                "SELECT g.id, g.name, g.owner,
                        (SELECT count(*) FROM members n WHERE n.group_id = g.id)
                 FROM members m JOIN chat_groups g ON g.id = m.group_id
                 WHERE m.user_id = $1 ORDER BY g.id",
                &[&id(user)],
            )
            .await?;
        Ok(rows(found, group_row))
    }

    async fn group_members(&self, group: GroupId) -> Result<Vec<Profile>> {
        let found = self
            .query(
                "SELECT u.id, u.account, u.nickname, u.avatar
                 FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.group_id = $1 ORDER BY u.id",
                &[&id(group)],
            )
            .await?;
        Ok(rows(found, profile_row))
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        let row = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM members WHERE group_id = $1 AND user_id = $2)",
                &[&id(group), &id(user)],
            )
            .await?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl MessageStore for PgStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut out = self.store_messages(vec![msg]).await?;
        out.pop().ok_or_else(|| {
            StorageError::unavailable_msg("PostgreSQL returned no outcome for the message")
        })
    }

    /// The whole batch in one statement: one round trip, one transaction (so a failed call
    /// stores none of the batch).
    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let n = msgs.len();
        let mut ids = Vec::with_capacity(n);
        let mut convs = Vec::with_capacity(n);
        let mut from = Vec::with_capacity(n);
        let mut to = Vec::with_capacity(n);
        let mut group = Vec::with_capacity(n);
        let mut msg_type = Vec::with_capacity(n);
        let mut content = Vec::with_capacity(n);
        let mut ts = Vec::with_capacity(n);
        for m in &msgs {
            ids.push(m.id.as_str());
            convs.push(m.conversation().key());
            from.push(id(m.from));
            to.push(id(m.to));
            group.push(m.chat_type == ChatType::Group);
            msg_type.push(m.msg_type);
            content.push(m.content.as_str());
            ts.push(m.timestamp);
        }
        let found = self
            .query(
                STORE_SQL,
                &[&ids, &convs, &from, &to, &group, &msg_type, &content, &ts],
            )
            .await?;
        if found.len() != n {
            return Err(StorageError::unavailable_msg(format!(
                "PostgreSQL returned {} outcomes for {n} messages",
                found.len()
            )));
        }
        Ok(msgs
            .into_iter()
            .zip(&found)
            .map(|(m, r)| store_outcome(m, r))
            .collect())
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        msg_id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>> {
        let (group, low, high): (Option<i64>, Option<i64>, Option<i64>) = match conv {
            Conversation::Direct { low, high } => (None, Some(id(low)), Some(id(high))),
            Conversation::Group(g) => (Some(id(g)), None, None),
        };
        let row = self
            .query_opt(
                RECEIPT_SQL,
                &[
                    &id(reader),
                    &conv.key(),
                    &msg_id,
                    &(receipt == Receipt::Read),
                    &group,
                    &low,
                    &high,
                ],
            )
            .await?;
        Ok(row.map(|r| message_row(&r, 0)))
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let found = self
            .query(PENDING_SQL, &[&id(user), &to_i64(after), &to_i64(limit)])
            .await?;
        Ok(rows(found, |r| PendingMessage {
            order: uid(r, 0),
            message: message_row(r, 1),
        }))
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (newest_first, bound) = match page {
            HistoryPage::Latest => (true, i64::MAX),
            HistoryPage::Before(s) => (true, to_i64(s)),
            HistoryPage::After(s) => (false, to_i64(s)),
        };
        let found = self
            .query(
                &history_sql(newest_first),
                &[&conv.key(), &bound, &to_i64(limit)],
            )
            .await?;
        Ok(rows(found, |r| {
            let message = message_row(r, 0);
            let seq = to_i64(message.conv_seq);
            let arrived: Option<i64> = r.get(8);
            let read: Option<i64> = r.get(9);
            let status = match (arrived, read) {
                (_, Some(read)) if read >= seq => MsgStatus::Read,
                (Some(arrived), _) if arrived >= seq => MsgStatus::Arrived,
                _ => MsgStatus::Sent,
            };
            HistoryItem { message, status }
        }))
    }
}
