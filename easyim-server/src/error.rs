//! The server's errors: [`ServerError`] (why the server could not start or run),
//! [`DaemonError`] (`-d`) and [`ImportError`] (`--import-original`).

use std::net::SocketAddr;
use std::path::PathBuf;

use easyim_core::StorageError;

/// Why [`crate::Server`] could not start (or [`crate::open_storage`] open the database). Each
/// variant names the setting or resource at fault and keeps the error underneath as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The SQLite file could not be opened, created or migrated.
    #[error("opening the SQLite database {path}")]
    Sqlite {
        /// `SQLITE_PATH`.
        path: PathBuf,
        /// What SQLite answered.
        #[source]
        source: StorageError,
    },
    /// PostgreSQL could not be reached, or its schema created or migrated.
    #[error("opening PostgreSQL {target}")]
    Postgres {
        /// `user@host:port/dbname`.
        target: String,
        /// What PostgreSQL answered.
        #[source]
        source: StorageError,
    },
    /// MySQL or MariaDB could not be reached, or its tables created or migrated.
    #[error("opening MySQL {target}")]
    Mysql {
        /// `user@host:port/dbname`.
        target: String,
        /// What the server answered.
        #[source]
        source: StorageError,
    },
    /// The token signing secret could not be read from or stored in the database.
    #[error("reading the server secret")]
    Secret(#[source] StorageError),
    /// The cluster's NATS server could not be reached (`NATS_URL`).
    #[error("connecting to NATS_URL")]
    Nats(#[source] easyim_bus_nats::Error),
    /// A port could not be bound (in use, or not allowed).
    #[error("binding {setting} {addr}")]
    Bind {
        /// `SERVER_PORT` or `API_SERVER_PORT`.
        setting: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the system answered.
        #[source]
        source: std::io::Error,
    },
    /// The local stop key could not be written (`LOCAL_STOP_FILE`).
    #[error("writing the local stop key to {path}")]
    StopFile {
        /// `LOCAL_STOP_FILE`.
        path: PathBuf,
        /// What the file system answered.
        #[source]
        source: std::io::Error,
    },
    /// The certificate or key could not be loaded (`TLS_CERT_FILE`, `TLS_KEY_FILE`).
    #[error("setting up TLS")]
    Tls(#[from] crate::tls::TlsError),
    /// Any other I/O failure of the listeners.
    #[error("server I/O")]
    Io(#[from] std::io::Error),
}

/// Why the server could not be started in the background.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A file (the log, the pid file, this program) could not be used.
    #[error("{what} {path}")]
    File {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The detached server could not be started.
    #[error("starting the server in the background")]
    Spawn(#[source] std::io::Error),
    /// The detached server ended at once.
    #[error("the server ended at once ({status}); see {log}")]
    Exited {
        /// How it ended.
        status: std::process::ExitStatus,
        /// Its log.
        log: String,
    },
}

/// Why `--import-original` could not run (a row that cannot be imported is not an error: it is
/// reported and skipped).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The original's SQLite file could not be opened (it is opened read-only: a missing file
    /// is an error, never a new empty database).
    #[error("opening the original SQLite database {path}")]
    OpenSqlite {
        /// The file given.
        path: PathBuf,
        /// What SQLite answered.
        #[source]
        source: rusqlite::Error,
    },
    /// The original's PostgreSQL database could not be reached.
    #[error("connecting to the original PostgreSQL database")]
    ConnectPostgres(#[source] tokio_postgres::Error),
    /// A table of the original could not be read from SQLite (missing, or not the original's).
    #[error("reading the original's table {table} (SQLite)")]
    ReadSqlite {
        /// The table.
        table: &'static str,
        /// What SQLite answered.
        #[source]
        source: rusqlite::Error,
    },
    /// A table of the original could not be read from PostgreSQL.
    #[error("reading the original's table {table} (PostgreSQL)")]
    ReadPostgres {
        /// The table.
        table: &'static str,
        /// What PostgreSQL answered.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The `mysql://` URL of the original's database does not read.
    #[error("the original's MySQL URL: {0}")]
    MysqlUrl(String),
    /// The original's MySQL database could not be reached.
    #[error("connecting to the original MySQL database")]
    ConnectMysql(#[source] mysql_async::Error),
    /// A table of the original could not be read from MySQL.
    #[error("reading the original's table {table} (MySQL)")]
    ReadMysql {
        /// The table.
        table: &'static str,
        /// What MySQL answered.
        #[source]
        source: mysql_async::Error,
    },
    /// A table has more rows than the import reads into memory; nothing was written.
    #[error("the original's table {table} has more than {max} rows, more than the import takes")]
    TooManyRows {
        /// The table.
        table: &'static str,
        /// The most rows read from one table.
        max: usize,
    },
    /// The task reading the SQLite file ended without an answer.
    #[error("reading the original SQLite database")]
    Task(#[source] tokio::task::JoinError),
    /// This server's storage failed; what was imported before stays, and a new run goes on.
    #[error("storage failed during the import")]
    Storage(#[from] StorageError),
}
