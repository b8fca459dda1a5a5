//! Reading the original's tables from its SQLite file.

use std::path::Path;

use rusqlite::types::ValueRef;

use super::{check_size, Cell, Dialect, ImportError, Rows, Table};

/// Reads `tables` from the SQLite file at `path`, opened read-only (a missing file is an
/// error, never a new empty database).
pub(super) fn read(path: &Path, tables: &[&Table]) -> Result<Rows, ImportError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| ImportError::OpenSqlite {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for t in tables {
        let fail = |source| ImportError::ReadSqlite {
            table: t.name,
            source,
        };
        let mut stmt = conn.prepare(&t.sql(Dialect::Standard)).map_err(fail)?;
        let rows = stmt
            .query_map([], |r| {
                (0..t.columns.len())
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Integer(v) => Cell::Int(v),
                            ValueRef::Real(v) => Cell::Int(v as i64),
                            ValueRef::Text(b) | ValueRef::Blob(b) => {
                                Cell::Text(String::from_utf8_lossy(b).into_owned())
                            }
                            ValueRef::Null => Cell::Text(String::new()),
                        })
                    })
                    .collect::<Result<Vec<_>, rusqlite::Error>>()
            })
            .map_err(fail)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        check_size(t, rows.len())?;
        out.push(rows);
    }
    Ok(out)
}
