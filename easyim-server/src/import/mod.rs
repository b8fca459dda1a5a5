//! `easyim --import-original <source>`: brings an original easyim installation's users,
//! friends and groups over (docs/architecture.md, "Importing an original installation").
//!
//! - `source`: reads the original's tables from its SQLite file, or PostgreSQL or MySQL
//!   database.
//! - `users`, `friends`, `groups`: write them through the core's storage traits, ids kept;
//!   `settings`: the original's group and member flags.
//!
//! The import is idempotent: what is there already is counted and left alone, so a second run
//! changes nothing. A row that conflicts with what is there (an id or account taken by someone
//! else, a member that was not imported) is reported and skipped; each row is one storage step,
//! so none is half-applied.

mod friends;
mod groups;
mod settings;
mod source;
mod users;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use easyim_core::{Snowflake, Storage};

use crate::error::ImportError;

/// At most this many skipped rows are listed in the report (all are counted).
const MAX_LISTED: usize = 100;

/// What one table's import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Rows written now.
    pub imported: usize,
    /// Rows that were there already (a run before this one).
    pub present: usize,
    /// Rows reported and skipped.
    pub skipped: usize,
}

/// What an import did, table by table, and the rows it skipped with the reason.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    /// `users`.
    pub users: Counts,
    /// `friends`, one per pair of users (the original kept one row per side).
    pub friendships: Counts,
    /// Open `friend_add_logs`.
    pub requests: Counts,
    /// `chat_groups`.
    pub groups: Counts,
    /// `chat_group_users`.
    pub members: Counts,
    /// Why rows were skipped, the first [`MAX_LISTED`] of them.
    pub skipped: Vec<String>,
    /// Original columns that have no place here yet, with how many rows had a value in them
    /// (docs/architecture.md lists them).
    pub not_kept: BTreeMap<&'static str, usize>,
}

impl ImportReport {
    /// Whether this run wrote nothing (everything was there already, or skipped).
    pub fn changed_nothing(&self) -> bool {
        [
            self.users,
            self.friendships,
            self.requests,
            self.groups,
            self.members,
        ]
        .iter()
        .all(|c| c.imported == 0)
    }

    fn not_kept(&mut self, column: &'static str) {
        *self.not_kept.entry(column).or_default() += 1;
    }

    fn skip(&mut self, why: String) {
        tracing::warn!(reason = %why, "import: row skipped");
        if self.skipped.len() < MAX_LISTED {
            self.skipped.push(why);
        }
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "import of the original installation:")?;
        for (name, c) in [
            ("users", self.users),
            ("friendships", self.friendships),
            ("friend requests", self.requests),
            ("groups", self.groups),
            ("group members", self.members),
        ] {
            writeln!(
                f,
                "  {name}: {} imported, {} already there, {} skipped",
                c.imported, c.present, c.skipped
            )?;
        }
        for why in &self.skipped {
            writeln!(f, "  skipped: {why}")?;
        }
        for (column, rows) in &self.not_kept {
            writeln!(
                f,
                "  not kept (no place for it yet): {column}, set on {rows} row(s)"
            )?;
        }
        Ok(())
    }
}

/// Imports the original installation at `source` (its SQLite file, or a `postgres://` or
/// `mysql://` URL) into `storage`. `node` is this node's snowflake number, for the ids the
/// import makes (friend requests).
pub async fn import_original(
    source: &str,
    storage: Arc<dyn Storage>,
    node: u16,
) -> Result<ImportReport, ImportError> {
    let original = source::read(source).await?;
    tracing::info!(
        users = original.users.len(),
        friends = original.friends.len(),
        requests = original.requests.len(),
        groups = original.groups.len(),
        members = original.members.len(),
        "import: the original database is read"
    );
    let ids = Snowflake::new(node);
    let mut report = ImportReport::default();
    users::import(&*storage, &original.users, &mut report).await?;
    friends::import(&*storage, &ids, &original, &mut report).await?;
    groups::import(&*storage, &original, &mut report).await?;
    Ok(report)
}

/// An original id as ours: ids are positive.
fn our_id(id: i64) -> Option<u64> {
    u64::try_from(id).ok().filter(|&id| id > 0)
}
