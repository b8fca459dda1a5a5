//! Reading the original's tables from its PostgreSQL database.

use super::{check_size, Cell, Dialect, ImportError, Kind, Rows, Table};

/// Reads `tables` from the PostgreSQL database at `url` (found through its `search_path`).
pub(super) async fn read(url: &str, tables: &[&Table]) -> Result<Rows, ImportError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(ImportError::ConnectPostgres)?;
    let conn = tokio::spawn(conn);
    let mut out = Vec::new();
    for t in tables {
        let fail = |source| ImportError::ReadPostgres {
            table: t.name,
            source,
        };
        let read = client
            .query(&t.sql(Dialect::Standard), &[])
            .await
            .map_err(fail)?;
        let rows = read
            .iter()
            .map(|r| {
                t.columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, k))| match k {
                        Kind::Int => r.try_get::<_, i64>(i).map(Cell::Int),
                        Kind::Text | Kind::Flag => r.try_get::<_, String>(i).map(Cell::Text),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        check_size(t, rows.len())?;
        out.push(rows);
    }
    drop(client);
    let _ = conn.await;
    Ok(out)
}
