//! The easyim server: the core wired to its storage, TCP, WebSocket and HTTP.
//!
//! - `config`: [`Config`] from `env.default`, `.env`, the environment and flags.
//! - `api`: the HTTP API of http-api.md as an axum router.
//! - `transport`: framed TCP, JSON, raw protobuf and WebSocket connections.
//! - `accept`: the start of a connection: its first byte, and the TLS handshake it may open.
//! - `tls`: the certificate and key of both ports, reloaded on SIGHUP.
//! - [`daemon`]: `-d`, the server detached in the background (unix).
//! - `import`: [`import_original`], an original installation's users, friends and groups
//!   brought over (`--import-original`).
//! - `flags`: [`go_style_args`], the original's Go-style flags read as ours.
//! - `server`: [`Server`]: listeners, first-byte sniffing, graceful shutdown, and
//!   [`open_storage`], which opens the storage `DB_DRIVER` names: [`SqliteStorage`] (the
//!   default, from `easyim-storage-sqlite`), `PgStorage` (from `easyim-storage-postgres`) or
//!   `MysqlStorage` (from `easyim-storage-mysql`).

mod accept;
mod api;
mod config;
#[cfg(unix)]
pub mod daemon;
mod error;
mod flags;
mod import;
mod keys;
mod server;
mod stall;
mod storage;
mod tls;
mod transport;
pub mod webhook;

pub use api::{api_routes, router as api_router, ApiConfig};
pub use config::{default_file, Config, ConfigError, DbDriver, Sources};
pub use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
pub use error::{DaemonError, ImportError, ServerError};
pub use flags::go_style_args;
pub use import::{import_original, Counts, ImportReport};
pub use server::Server;
pub use storage::open_storage;
pub use tls::{TlsError, TlsFiles};
