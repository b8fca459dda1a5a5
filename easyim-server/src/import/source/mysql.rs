//! Reading the original's tables from its MySQL (or MariaDB) database.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value};

use super::{check_size, Cell, Dialect, ImportError, Rows, Table};

/// Reads `tables` from the MySQL database at `url` (`mysql://user:password@host:port/db`).
pub(super) async fn read(url: &str, tables: &[&Table]) -> Result<Rows, ImportError> {
    let opts = Opts::from_url(url).map_err(|e| ImportError::MysqlUrl(e.to_string()))?;
    let mut conn = Conn::new(opts).await.map_err(ImportError::ConnectMysql)?;
    let mut out = Vec::new();
    for t in tables {
        let fail = |source| ImportError::ReadMysql {
            table: t.name,
            source,
        };
        let read: Vec<Row> = conn.query(t.sql(Dialect::Mysql)).await.map_err(fail)?;
        let rows: Vec<Vec<Cell>> = read
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(cell).collect())
            .collect();
        check_size(t, rows.len())?;
        out.push(rows);
    }
    let _ = conn.disconnect().await;
    Ok(out)
}

/// A cell as the text protocol gives it (bytes), or as a binary value.
fn cell(v: Value) -> Cell {
    match v {
        Value::Int(i) => Cell::Int(i),
        Value::UInt(u) => Cell::Int(i64::try_from(u).unwrap_or(i64::MAX)),
        Value::Bytes(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
        Value::NULL => Cell::Text(String::new()),
        other => Cell::Text(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}
