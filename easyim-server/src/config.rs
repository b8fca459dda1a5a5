//! Configuration, compatible with the original easyim: `env.default` (written with the
//! defaults on first run), then `.env`, then the process environment, then command-line flags.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use easyim_core::DirectMessages;
use easyim_proto::FormatPolicy;

use easyim_storage_mysql::MysqlConfig;
use easyim_storage_postgres::PgConfig;
use easyim_storage_sqlite::Synchronous;

pub use crate::keys::default_file;
use crate::keys::KEYS;
use crate::tls::TlsFiles;

/// The shortest `ADMIN_TOKEN` accepted.
pub(crate) const MIN_ADMIN_TOKEN: usize = 16;

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key has a value of the wrong form.
    #[error("invalid {key}={value:?}: {why}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        why: String,
    },
    /// A config file could not be read or written.
    #[error("{path}: {err}")]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        err: std::io::Error,
    },
}

/// The server's settings, every one of them validated.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `SERVER_IP`.
    pub ip: IpAddr,
    /// `SERVER_PORT`.
    pub port: u16,
    /// `API_SERVER_PORT`.
    pub api_port: u16,
    /// `SERVER_DROP_AFTER`.
    pub idle_timeout: Duration,
    /// `WRITE_TIMEOUT`: how long a write may make no progress (the peer does not read), and
    /// the longest an HTTP request may take.
    pub write_timeout: Duration,
    /// `AUTH_TIMEOUT`.
    pub auth_timeout: Duration,
    /// `MSG_FORMAT`.
    pub msg_format: FormatPolicy,
    /// `MAX_FRAME_BYTES`.
    pub max_frame_bytes: usize,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `SEND_QUEUE`.
    pub send_queue: usize,
    /// `RATE_LIMIT`.
    pub rate_limit: u32,
    /// `API_RATE_LIMIT`.
    pub api_rate_limit: u32,
    /// `API_ALWAYS_200`.
    pub api_always_200: bool,
    /// `ADMIN_TOKEN`; empty: the server API is off.
    pub admin_token: String,
    /// `RECALL_WINDOW` and `EDIT_WINDOW`, in seconds (0: no limit).
    pub amend: easyim_core::recall::AmendWindows,
    /// `TYPING_MAX_GROUP`.
    pub typing_max_group: u64,
    /// `MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `MAX_GROUP_MEMBERS`.
    pub max_group_members: u64,
    /// `MAX_GROUPS_PER_USER`.
    pub max_groups_per_user: u64,
    /// `DIRECT_MESSAGES`.
    pub direct_messages: DirectMessages,
    /// `ACCESS_TOKEN_TTL`, seconds.
    pub access_ttl: u64,
    /// `REFRESH_TOKEN_TTL`, seconds.
    pub refresh_ttl: u64,
    /// `DB_DRIVER`.
    pub db_driver: DbDriver,
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USERNAME`, `DB_PASSWORD`, `DB_SCHEMA`: used when
    /// `DB_DRIVER` is `postgres`.
    pub postgres: PgConfig,
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USERNAME`, `DB_PASSWORD`: used when `DB_DRIVER` is
    /// `mysql`.
    pub mysql: MysqlConfig,
    /// `NATS_URL`; empty for a single node.
    pub nats_url: String,
    /// `SQLITE_PATH`, or `<DB_NAME>.db`.
    pub sqlite_path: PathBuf,
    /// `LOCAL_STOP_FILE`: the key `POST /api/local/stop` needs, written owner-only at start.
    pub local_stop_file: PathBuf,
    /// `DAEMON_LOG_FILE`: the log of a server started with `-d`.
    pub daemon_log_file: PathBuf,
    /// `DAEMON_PID_FILE`: the process id of a server started with `-d`.
    pub daemon_pid_file: PathBuf,
    /// `SQLITE_SYNCHRONOUS`.
    pub sqlite_synchronous: Synchronous,
    /// `DB_NODE_ID`.
    pub node_id: u16,
    /// `LOG_FORMAT` is `json`.
    pub log_json: bool,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`, when both are set: both ports then take TLS too.
    pub tls: Option<TlsFiles>,
    /// `TLS_REQUIRED`: plain connections are refused on both ports.
    pub tls_required: bool,
    /// `WEBHOOK_*`.
    pub webhook: crate::webhook::WebhookSettings,
    /// `BEFORE_SEND_*`.
    pub before_send: crate::webhook::BeforeSendSettings,
}

/// Which storage the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbDriver {
    /// One SQLite file: a single node.
    Sqlite,
    /// A PostgreSQL server, which several nodes may share.
    Postgres,
    /// A MySQL or MariaDB server, which several nodes may share.
    Mysql,
}

/// Where the values come from, lowest priority first.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    values: BTreeMap<String, String>,
}

impl Sources {
    /// Reads `env.default` (writing it first if it is missing), then `.env`, from `dir`, then
    /// the process environment.
    pub fn load(dir: &Path) -> Result<Sources, ConfigError> {
        let mut s = Sources::default();
        let default_path = dir.join("env.default");
        if !default_path.exists() {
            std::fs::write(&default_path, default_file()).map_err(|err| ConfigError::File {
                path: default_path.clone(),
                err,
            })?;
        }
        for name in ["env.default", ".env"] {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => s.values.extend(parse_env_file(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(ConfigError::File { path, err }),
            }
        }
        for (key, _, _) in KEYS {
            if let Ok(v) = std::env::var(key) {
                s.values.insert((*key).to_owned(), v);
            }
        }
        Ok(s)
    }

    /// Sets a value (command-line flags, tests).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_owned(), value.into());
    }

    fn get(&self, key: &'static str) -> String {
        self.values.get(key).cloned().unwrap_or_else(|| {
            KEYS.iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, d, _)| (*d).to_owned())
                .unwrap_or_default()
        })
    }

    fn parse<T: FromStr>(&self, key: &'static str, what: &str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.get(key);
        value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                key,
                value: value.clone(),
                why: format!("expected {what} ({e})"),
            })
    }

    fn positive(&self, key: &'static str) -> Result<u64, ConfigError> {
        let v: u64 = self.parse(key, "a positive whole number")?;
        if v == 0 {
            return Err(ConfigError::Invalid {
                key,
                value: self.get(key),
                why: "must be greater than 0".into(),
            });
        }
        Ok(v)
    }

    /// A yes/no setting: true, false, 1, 0, yes, no, on or off.
    /// `ADMIN_TOKEN`: empty, or at least [`MIN_ADMIN_TOKEN`] characters without whitespace
    /// (it travels in a header, and a short one could be guessed).
    fn admin_token(&self) -> Result<String, ConfigError> {
        let value = self.get("ADMIN_TOKEN");
        let token = value.trim();
        if token.is_empty() {
            return Ok(String::new());
        }
        if token.chars().count() < MIN_ADMIN_TOKEN || token.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                key: "ADMIN_TOKEN",
                value: "(hidden)".into(),
                why: format!(
                    "expected empty (off) or at least {MIN_ADMIN_TOKEN} characters without spaces"
                ),
            });
        }
        Ok(token.to_owned())
    }

    fn flag(&self, key: &'static str) -> Result<bool, ConfigError> {
        let value = self.get(key);
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(ConfigError::Invalid {
                key,
                value,
                why: "expected true or false".into(),
            }),
        }
    }

    /// Validates everything into a [`Config`].
    pub fn config(&self) -> Result<Config, ConfigError> {
        let driver = self.get("DB_DRIVER");
        let db_driver = match driver.trim() {
            "sqlite3" | "sqlite" => DbDriver::Sqlite,
            "postgres" | "postgresql" | "pgsql" => DbDriver::Postgres,
            "mysql" | "mariadb" => DbDriver::Mysql,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "DB_DRIVER",
                    value: driver,
                    why: "expected sqlite3, postgres or mysql".into(),
                })
            }
        };
        // An empty DB_PORT is the driver's own port.
        let port = |default: u16| -> Result<u16, ConfigError> {
            if self.get("DB_PORT").trim().is_empty() {
                Ok(default)
            } else {
                self.parse("DB_PORT", "a port number")
            }
        };
        let mut mysql = MysqlConfig::default();
        mysql.host = self.get("DB_HOST").trim().to_owned();
        mysql.port = port(3306)?;
        mysql.dbname = self.get("DB_NAME").trim().to_owned();
        mysql.user = self.get("DB_USERNAME").trim().to_owned();
        mysql.password = self.get("DB_PASSWORD");
        let mut postgres = PgConfig::default();
        postgres.host = mysql.host.clone();
        postgres.port = port(5432)?;
        postgres.dbname = mysql.dbname.clone();
        postgres.user = mysql.user.clone();
        postgres.password = mysql.password.clone();
        postgres.schema = Some(self.get("DB_SCHEMA").trim().to_owned()).filter(|s| !s.is_empty());
        let sqlite_path = match self.get("SQLITE_PATH").trim() {
            "" => PathBuf::from(format!("{}.db", self.get("DB_NAME").trim())),
            p => PathBuf::from(p),
        };
        let node_id: u16 = self.parse("DB_NODE_ID", "a node number from 0 to 1023")?;
        if node_id > 1023 {
            return Err(ConfigError::Invalid {
                key: "DB_NODE_ID",
                value: node_id.to_string(),
                why: "expected a node number from 0 to 1023".into(),
            });
        }
        let log_format = self.get("LOG_FORMAT");
        let log_json = match log_format.trim() {
            "text" | "" => false,
            "json" => true,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "LOG_FORMAT",
                    value: log_format,
                    why: "expected text or json".into(),
                })
            }
        };
        let (tls, tls_required) = self.tls()?;
        Ok(Config {
            ip: self.parse("SERVER_IP", "an IP address")?,
            port: self.parse("SERVER_PORT", "a port number")?,
            api_port: self.parse("API_SERVER_PORT", "a port number")?,
            idle_timeout: Duration::from_secs(self.positive("SERVER_DROP_AFTER")?),
            write_timeout: Duration::from_secs(self.positive("WRITE_TIMEOUT")?),
            auth_timeout: Duration::from_secs(self.positive("AUTH_TIMEOUT")?),
            msg_format: self.parse("MSG_FORMAT", "auto, json or protobuf")?,
            max_frame_bytes: self.positive("MAX_FRAME_BYTES")? as usize,
            max_body_bytes: self.positive("MAX_BODY_BYTES")? as usize,
            send_queue: self.positive("SEND_QUEUE")? as usize,
            rate_limit: self.parse("RATE_LIMIT", "frames per second, 0 for none")?,
            api_rate_limit: self.parse("API_RATE_LIMIT", "requests per second, 0 for none")?,
            api_always_200: self.flag("API_ALWAYS_200")?,
            admin_token: self.admin_token()?,
            amend: easyim_core::recall::AmendWindows {
                recall_secs: self.parse("RECALL_WINDOW", "seconds, 0 for no limit")?,
                edit_secs: self.parse("EDIT_WINDOW", "seconds, 0 for no limit")?,
            },
            typing_max_group: self.parse("TYPING_MAX_GROUP", "a number of members")?,
            webhook: crate::webhook::WebhookSettings::parse(|k| self.get(k))?,
            before_send: crate::webhook::BeforeSendSettings::parse(|k| self.get(k))?,
            max_connections: self.positive("MAX_CONNECTIONS")? as usize,
            max_group_members: self.positive("MAX_GROUP_MEMBERS")?,
            max_groups_per_user: self.positive("MAX_GROUPS_PER_USER")?,
            direct_messages: self.parse("DIRECT_MESSAGES", "anyone or friends")?,
            access_ttl: self.positive("ACCESS_TOKEN_TTL")?,
            refresh_ttl: self.positive("REFRESH_TOKEN_TTL")?,
            db_driver,
            postgres,
            mysql,
            nats_url: self.get("NATS_URL").trim().to_owned(),
            sqlite_path,
            local_stop_file: PathBuf::from(self.get("LOCAL_STOP_FILE").trim()),
            daemon_log_file: PathBuf::from(self.get("DAEMON_LOG_FILE").trim()),
            daemon_pid_file: PathBuf::from(self.get("DAEMON_PID_FILE").trim()),
            sqlite_synchronous: self.parse("SQLITE_SYNCHRONOUS", "normal or full")?,
            node_id,
            log_json,
            log_level: self.get("LOG_LEVEL"),
            tls,
            tls_required,
        })
    }

    /// `TLS_CERT_FILE` and `TLS_KEY_FILE` (both or neither), and `TLS_REQUIRED` (only with
    /// them: without a certificate it would refuse every connection).
    fn tls(&self) -> Result<(Option<TlsFiles>, bool), ConfigError> {
        let cert = self.get("TLS_CERT_FILE").trim().to_owned();
        let key = self.get("TLS_KEY_FILE").trim().to_owned();
        let tls = match (cert.is_empty(), key.is_empty()) {
            (true, true) => None,
            (false, false) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (false, true) | (true, false) => {
                let (missing, set) = if key.is_empty() {
                    ("TLS_KEY_FILE", "TLS_CERT_FILE")
                } else {
                    ("TLS_CERT_FILE", "TLS_KEY_FILE")
                };
                return Err(ConfigError::Invalid {
                    key: missing,
                    value: String::new(),
                    why: format!("must be set with {set}"),
                });
            }
        };
        let required = self.get("TLS_REQUIRED");
        let tls_required = match required.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "0" | "no" | "off" => false,
            "true" | "1" | "yes" | "on" => true,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "TLS_REQUIRED",
                    value: required,
                    why: "expected true or false".into(),
                })
            }
        };
        if tls_required && tls.is_none() {
            return Err(ConfigError::Invalid {
                key: "TLS_REQUIRED",
                value: required,
                why: "needs TLS_CERT_FILE and TLS_KEY_FILE".into(),
            });
        }
        Ok((tls, tls_required))
    }
}

/// Parses `KEY = value` lines (quotes optional, `#` comments, `export ` prefix tolerated).
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            // A quoted value ends at its closing quote, so a comment may follow it.
            let quoted = v
                .chars()
                .next()
                .filter(|q| matches!(q, '"' | '\''))
                .and_then(|q| v[1..].find(q).map(|end| &v[1..1 + end]));
            let v = if let Some(inner) = quoted {
                inner
            } else {
                // An unquoted value may carry a trailing comment.
                v.split(" #").next().unwrap_or(v).trim()
            };
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
