//! Reading an original easyim installation's database: its SQLite file, or its PostgreSQL or
//! MySQL database, the tables of its Go models (snake_case columns, with the `id`, `created_at`
//! and `updated_at` of its base model).
//!
//! Every column is read through `CAST` to an integer or text, so that the types each database
//! and each version of the original used (booleans as integers, dates as text or numbers) read
//! alike; a missing value reads as 0 or empty. Here: what is read, and the queries; in
//! `sqlite`, `postgres` and `mysql`: running them.

mod mysql;
mod postgres;
mod sqlite;

use std::path::Path;

use super::ImportError;

/// The most rows read from one table: the tables are read whole into memory (a few hundred
/// bytes a row), so a larger one is refused rather than allowed to exhaust memory.
pub(crate) const MAX_ROWS: usize = 1_000_000;

/// An original user (`users`).
#[derive(Debug, Clone)]
pub(crate) struct OrigUser {
    pub(crate) id: i64,
    pub(crate) account: String,
    /// The original's `name` (its display name).
    pub(crate) name: String,
    pub(crate) avatar: String,
    pub(crate) mobile: String,
    pub(crate) email: String,
    /// Lowercase hex SHA-256 of the hex SHA-256 of the password.
    pub(crate) password_hash: String,
    pub(crate) created_at: String,
}

/// One row of `friends`: `user_id` lists `friend_id`.
#[derive(Debug, Clone)]
pub(crate) struct OrigFriend {
    pub(crate) user_id: i64,
    pub(crate) friend_id: i64,
    pub(crate) remark: String,
    pub(crate) sort: i64,
}

/// One row of `friend_add_logs`: `user_id` asked `friend_id`; `status` 0 open, 1 accepted,
/// 2 refused.
#[derive(Debug, Clone)]
pub(crate) struct OrigRequest {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) friend_id: i64,
    pub(crate) msg: String,
    pub(crate) status: i64,
    pub(crate) created_at: String,
}

/// One row of `chat_groups`.
#[derive(Debug, Clone)]
pub(crate) struct OrigGroup {
    pub(crate) id: i64,
    /// `user_id`: the creator, who owns it.
    pub(crate) owner: i64,
    pub(crate) name: String,
    pub(crate) join_check: i64,
    /// 1: everyone muted.
    pub(crate) status: i64,
}

/// One row of `chat_group_users`.
#[derive(Debug, Clone)]
pub(crate) struct OrigMember {
    pub(crate) group_id: i64,
    pub(crate) user_id: i64,
    /// 1: muted.
    pub(crate) status: i64,
    /// Above 0: pinned.
    pub(crate) sort: i64,
    /// Do not disturb.
    pub(crate) be_quiet: i64,
}

/// Everything the import reads, in the order it is applied.
#[derive(Debug, Default)]
pub(crate) struct Original {
    pub(crate) users: Vec<OrigUser>,
    pub(crate) friends: Vec<OrigFriend>,
    pub(crate) requests: Vec<OrigRequest>,
    pub(crate) groups: Vec<OrigGroup>,
    pub(crate) members: Vec<OrigMember>,
}

/// A value read from a cell.
#[derive(Debug, Clone)]
enum Cell {
    Int(i64),
    Text(String),
}

impl Cell {
    fn int(&self) -> i64 {
        match self {
            Cell::Int(v) => *v,
            // A boolean written as text (PostgreSQL's `true`, or `t`) is 1.
            Cell::Text(t) => match t.trim() {
                "true" | "t" | "TRUE" => 1,
                other => other.parse().unwrap_or(0),
            },
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Text(t) => t.clone(),
        }
    }
}

/// How a column is read.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Text,
    /// A boolean (PostgreSQL's `bool`, SQLite's 0/1), read as text: no integer cast takes both.
    Flag,
}

/// The SQL of the database read: the names of the casts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// SQLite and PostgreSQL: `BIGINT`, `TEXT`.
    Standard,
    /// MySQL and MariaDB: `SIGNED`, `CHAR`.
    Mysql,
}

/// The rows of each table read, in the order of the tables asked for, each row its cells in the
/// order of the table's columns.
type Rows = Vec<Vec<Vec<Cell>>>;

/// One table's query: its columns, each cast to its kind.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
}

impl Table {
    fn sql(&self, dialect: Dialect) -> String {
        let (int, text) = match dialect {
            Dialect::Standard => ("BIGINT", "TEXT"),
            Dialect::Mysql => ("SIGNED", "CHAR"),
        };
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, k)| match k {
                Kind::Int => format!("COALESCE(CAST({c} AS {int}), 0)"),
                Kind::Text | Kind::Flag => format!("COALESCE(CAST({c} AS {text}), '')"),
            })
            .collect();
        // One row more than the cap tells a table over it.
        format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT {}",
            cols.join(", "),
            self.name,
            self.order,
            MAX_ROWS + 1
        )
    }
}

const USERS: Table = Table {
    name: "users",
    columns: &[
        ("id", Kind::Int),
        ("account", Kind::Text),
        ("name", Kind::Text),
        ("avatar", Kind::Text),
        ("mobile", Kind::Text),
        ("email", Kind::Text),
        ("password_hash", Kind::Text),
        ("created_at", Kind::Text),
    ],
    order: "id",
};
const FRIENDS: Table = Table {
    name: "friends",
    columns: &[
        ("user_id", Kind::Int),
        ("friend_id", Kind::Int),
        ("remark", Kind::Text),
        ("sort", Kind::Int),
    ],
    order: "id",
};
const REQUESTS: Table = Table {
    name: "friend_add_logs",
    columns: &[
        ("id", Kind::Int),
        ("user_id", Kind::Int),
        ("friend_id", Kind::Int),
        ("msg", Kind::Text),
        ("status", Kind::Int),
        ("created_at", Kind::Text),
    ],
    order: "id",
};
const GROUPS: Table = Table {
    name: "chat_groups",
    columns: &[
        ("id", Kind::Int),
        ("user_id", Kind::Int),
        ("name", Kind::Text),
        ("join_check", Kind::Flag),
        ("status", Kind::Int),
    ],
    order: "id",
};
const MEMBERS: Table = Table {
    name: "chat_group_users",
    columns: &[
        ("group_id", Kind::Int),
        ("user_id", Kind::Int),
        ("status", Kind::Int),
        ("sort", Kind::Int),
        ("be_quiet", Kind::Flag),
    ],
    order: "id",
};

/// Reads the original's tables from `source`: a `postgres://` (or `postgresql://`) URL, a
/// `mysql://` URL, or the path of its SQLite file.
pub(crate) async fn read(source: &str) -> Result<Original, ImportError> {
    let tables = [&USERS, &FRIENDS, &REQUESTS, &GROUPS, &MEMBERS];
    let rows = if source.starts_with("postgres://") || source.starts_with("postgresql://") {
        postgres::read(source, &tables).await?
    } else if source.starts_with("mysql://") {
        mysql::read(source, &tables).await?
    } else {
        let path = Path::new(source).to_owned();
        tokio::task::spawn_blocking(move || sqlite::read(&path, &tables))
            .await
            .map_err(ImportError::Task)??
    };
    let mut rows = rows.into_iter();
    let mut next = || rows.next().unwrap_or_default();
    Ok(Original {
        users: next()
            .into_iter()
            .map(|c| OrigUser {
                id: c[0].int(),
                account: c[1].text(),
                name: c[2].text(),
                avatar: c[3].text(),
                mobile: c[4].text(),
                email: c[5].text(),
                password_hash: c[6].text(),
                created_at: c[7].text(),
            })
            .collect(),
        friends: next()
            .into_iter()
            .map(|c| OrigFriend {
                user_id: c[0].int(),
                friend_id: c[1].int(),
                remark: c[2].text(),
                sort: c[3].int(),
            })
            .collect(),
        requests: next()
            .into_iter()
            .map(|c| OrigRequest {
                id: c[0].int(),
                user_id: c[1].int(),
                friend_id: c[2].int(),
                msg: c[3].text(),
                status: c[4].int(),
                created_at: c[5].text(),
            })
            .collect(),
        groups: next()
            .into_iter()
            .map(|c| OrigGroup {
                id: c[0].int(),
                owner: c[1].int(),
                name: c[2].text(),
                join_check: c[3].int(),
                status: c[4].int(),
            })
            .collect(),
        members: next()
            .into_iter()
            .map(|c| OrigMember {
                group_id: c[0].int(),
                user_id: c[1].int(),
                status: c[2].int(),
                sort: c[3].int(),
                be_quiet: c[4].int(),
            })
            .collect(),
    })
}

/// A table over [`MAX_ROWS`] is refused before anything is written.
fn check_size(t: &Table, rows: usize) -> Result<(), ImportError> {
    if rows > MAX_ROWS {
        return Err(ImportError::TooManyRows {
            table: t.name,
            max: MAX_ROWS,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_is_read_with_casts_and_a_row_cap() {
        let sql = GROUPS.sql(Dialect::Standard);
        assert!(sql.contains("COALESCE(CAST(id AS BIGINT), 0)"), "{sql}");
        assert!(
            sql.contains("COALESCE(CAST(join_check AS TEXT), '')"),
            "{sql}"
        );
        assert!(
            sql.ends_with(&format!("ORDER BY id LIMIT {}", MAX_ROWS + 1)),
            "{sql}"
        );
        let sql = MEMBERS.sql(Dialect::Mysql);
        assert!(
            sql.contains("COALESCE(CAST(group_id AS SIGNED), 0)"),
            "{sql}"
        );
        assert!(
            sql.contains("COALESCE(CAST(be_quiet AS CHAR), '')"),
            "{sql}"
        );
        assert!(check_size(&USERS, MAX_ROWS).is_ok());
        assert!(matches!(
            check_size(&USERS, MAX_ROWS + 1),
            Err(ImportError::TooManyRows { table: "users", .. })
        ));
    }

    #[test]
    fn booleans_and_numbers_read_alike_from_either_database() {
        for (cell, want) in [
            (Cell::Text("true".into()), 1),
            (Cell::Text("t".into()), 1),
            (Cell::Text("false".into()), 0),
            (Cell::Text("1".into()), 1),
            (Cell::Text("".into()), 0),
            (Cell::Int(7), 7),
        ] {
            assert_eq!(cell.int(), want, "{cell:?}");
        }
        assert_eq!(Cell::Int(1677664800).text(), "1677664800");
    }
}
