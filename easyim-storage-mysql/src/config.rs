//! [`MysqlConfig`]: where the database is and how many connections to keep, and [`ConfigError`].

use std::fmt;

use mysql_async::{Opts, OptsBuilder, PoolConstraints, PoolOpts};

use crate::POOL_TIMEOUT;

/// Where [`MysqlStorage::connect`](crate::MysqlStorage::connect) finds the database, and how many
/// connections it keeps.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MysqlConfig {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (3306 by default).
    pub port: u16,
    /// The database (it must exist; easyim creates its tables in it).
    pub dbname: String,
    /// The user to log in as.
    pub user: String,
    /// Its password (empty for none).
    pub password: String,
    /// The most connections the pool opens (at least 1).
    pub pool_size: usize,
}

impl Default for MysqlConfig {
    fn default() -> Self {
        MysqlConfig {
            host: "127.0.0.1".to_owned(),
            port: 3306,
            dbname: "easyim".to_owned(),
            user: "easyim".to_owned(),
            password: String::new(),
            pool_size: 16,
        }
    }
}

impl fmt::Debug for MysqlConfig {
    /// Everything but the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// A configuration that [`MysqlConfig`] cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse as a MySQL connection URL.
    #[error("invalid MySQL URL: {0}")]
    Url(String),
}

/// What every connection runs first: `READ COMMITTED` (each statement sees what committed
/// before it, no gap locks), and strict checks, so that a value that does not fit is an
/// error rather than silently cut.
const SETUP: [&str; 2] = [
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
];

/// Prepared statements each connection keeps: the storage's fixed set, with the chunk sizes
/// of its multi-row statements.
const STATEMENT_CACHE: usize = 256;

impl MysqlConfig {
    /// Reads a `mysql://user:password@host:port/dbname` URL; the pool size is the default
    /// (16).
    pub fn from_url(url: &str) -> Result<MysqlConfig, ConfigError> {
        let opts = Opts::from_url(url).map_err(|e| ConfigError::Url(e.to_string()))?;
        Ok(MysqlConfig {
            host: opts.ip_or_hostname().to_owned(),
            port: opts.tcp_port(),
            dbname: opts.db_name().unwrap_or("easyim").to_owned(),
            user: opts.user().unwrap_or("easyim").to_owned(),
            password: opts.pass().unwrap_or_default().to_owned(),
            ..MysqlConfig::default()
        })
    }

    /// The driver's options: this server, a pool of at most `pool_size` connections that are
    /// not reset when they go back (the session settings and prepared statements stay).
    pub(crate) fn opts(&self) -> Opts {
        let constraints = PoolConstraints::new(0, self.pool_size.max(1))
            .unwrap_or_else(|| PoolConstraints::new(0, 1).unwrap_or_default());
        let pool = PoolOpts::default()
            .with_constraints(constraints)
            .with_reset_connection(false)
            .with_inactive_connection_ttl(POOL_TIMEOUT * 6);
        OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .db_name(Some(self.dbname.clone()))
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()).filter(|p| !p.is_empty()))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .stmt_cache_size(STATEMENT_CACHE)
            .setup(SETUP.to_vec())
            .pool_opts(pool)
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_debug() {
        let c = MysqlConfig::from_url("mysql://im:s3cret@db.internal:3307/chat").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.dbname.as_str(), c.user.as_str()),
            ("db.internal", 3307, "chat", "im")
        );
        assert_eq!(c.password, "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(MysqlConfig::from_url("postgres://x@y/z").is_err());
    }
}
