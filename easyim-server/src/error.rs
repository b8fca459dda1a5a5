//! [`ServerError`]: why the server could not start or run.

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
