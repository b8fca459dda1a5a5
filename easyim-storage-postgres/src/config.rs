//! [`PgConfig`]: where the database is and how many connections to keep, and [`ConfigError`].

use std::fmt;
use std::str::FromStr;

use easyim_core::StorageError;

use crate::error::Result;
use crate::POOL_TIMEOUT;

/// Where [`PgStorage::connect`](crate::PgStorage::connect) finds the database, and how many
/// connections it keeps.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
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

    pub(crate) fn checked_schema(&self) -> Result<Option<&str>, ConfigError> {
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

    pub(crate) fn tokio_postgres(&self) -> Result<tokio_postgres::Config, ConfigError> {
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
