//! [`SqliteOptions`] and [`Synchronous`]: how [`SqliteStorage::open`](crate::SqliteStorage::open)
//! sets up the database.

use std::fmt;
use std::str::FromStr;

/// How hard SQLite works to keep a commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// WAL with `synchronous=NORMAL`: a commit survives a crash of the process, but the last
    /// commits may be lost on power loss or an OS crash. No fsync per commit.
    #[default]
    Normal,
    /// `synchronous=FULL`: a commit survives power loss too, at the cost of one fsync per
    /// group commit batch.
    Full,
}

impl Synchronous {
    /// The value of `PRAGMA synchronous` for this mode.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl fmt::Display for Synchronous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        })
    }
}

impl FromStr for Synchronous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            _ => Err(format!(
                "invalid SQLite synchronous mode {s:?}: expected \"normal\" or \"full\""
            )),
        }
    }
}

/// How [`SqliteStorage::open`](crate::SqliteStorage::open) sets up the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// What a commit (and so an ack) survives; see [`Synchronous`].
    pub synchronous: Synchronous,
    /// How many reads may run at once, each on its own read-only connection (at least 1).
    pub read_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            read_connections: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_parses_case_insensitively() {
        assert_eq!("normal".parse::<Synchronous>(), Ok(Synchronous::Normal));
        assert_eq!("FULL".parse::<Synchronous>(), Ok(Synchronous::Full));
        assert_eq!(" Full ".parse::<Synchronous>(), Ok(Synchronous::Full));
        let err = "off".parse::<Synchronous>().unwrap_err();
        assert!(err.contains("\"off\"") && err.contains("normal"), "{err}");
        assert_eq!(Synchronous::Full.to_string().parse(), Ok(Synchronous::Full));
    }
}
