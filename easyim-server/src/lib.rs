//! The easyim server: the core wired to its storage, TCP, WebSocket and HTTP.
//!
//! - `config`: [`Config`] from `env.default`, `.env`, the environment and flags.
//! - `api`: the HTTP API of http-api.md as an axum router.
//! - `transport`: framed TCP, JSON, raw protobuf and WebSocket connections.
//! - `server`: [`Server`]: listeners, first-byte sniffing, graceful shutdown, and
//!   [`open_storage`], which opens the storage `DB_DRIVER` names: [`SqliteStorage`] (the
//!   default, from `easyim-storage-sqlite`) or `PgStorage` (from `easyim-storage-postgres`).

mod api;
mod config;
mod error;
mod keys;
mod server;
mod stall;
mod transport;

pub use api::{router as api_router, ApiConfig};
pub use config::{default_file, Config, ConfigError, DbDriver, PgSettings, Sources};
pub use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
pub use error::ServerError;
pub use server::{open_storage, Server};
