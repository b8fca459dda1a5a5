//! The easyim server: the core wired to its storage, TCP, WebSocket and HTTP.
//!
//! - `config`: [`Config`] from `env.default`, `.env`, the environment and flags.
//! - `api`: the HTTP API of http-api.md as an axum router.
//! - `transport`: framed TCP, JSON lines and WebSocket connections.
//! - `accept`: the start of a connection: its first byte, and the TLS handshake it may open.
//! - `tls`: the certificate and key of both ports, reloaded on SIGHUP.
//! - `server`: [`Server`]: listeners, first-byte sniffing, graceful shutdown, and
//!   [`open_storage`], which opens the storage `DB_DRIVER` names: [`SqliteStorage`] (the
//!   default, from `easyim-storage-sqlite`) or `PgStorage` (from `easyim-storage-postgres`).

mod accept;
mod api;
mod config;
mod error;
mod keys;
mod server;
mod stall;
mod tls;
mod transport;

pub use api::{router as api_router, ApiConfig};
pub use config::{default_file, Config, ConfigError, DbDriver, PgSettings, Sources};
pub use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
pub use error::ServerError;
pub use server::{open_storage, Server};
pub use tls::{TlsError, TlsFiles};
