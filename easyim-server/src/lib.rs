//! The easyim server: the core wired to SQLite, TCP, WebSocket and HTTP.
//!
//! - `config`: [`Config`] from `env.default`, `.env`, the environment and flags.
//! - `sqlite`: [`SqliteStorage`], the default [`easyim_core::Storage`].
//! - `api`: the HTTP API of http-api.md as an axum router.
//! - `transport`: framed TCP, JSON lines and WebSocket connections.
//! - `server`: [`Server`]: listeners, first-byte sniffing, graceful shutdown.

mod api;
mod config;
mod server;
mod sqlite;
mod transport;

pub use api::{router as api_router, ApiConfig};
pub use config::{default_file, Config, ConfigError, DbDriver, PgSettings, Sources};
pub use server::{open_storage, Server};
pub use sqlite::{SqliteOptions, SqliteStorage, Synchronous};
