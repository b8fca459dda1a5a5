//! The easyim server: the core wired to SQLite, TCP, WebSocket and HTTP.

mod sqlite;
// pub use sqlite::SqliteStorage;  (enabled once sqlite.rs defines it)
