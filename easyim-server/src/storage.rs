//! Opening the storage `DB_DRIVER` names, and writing the server's own small files (the
//! local stop key) readable by their owner only.

use std::sync::Arc;

use easyim_core::Storage;
use easyim_storage_mysql::MysqlStorage;
use easyim_storage_postgres::PgStorage;

use crate::config::{Config, DbDriver};
use crate::error::ServerError;
use crate::{SqliteOptions, SqliteStorage};

/// Opens the storage `DB_DRIVER` names, creating or migrating its schema: SQLite in
/// `SQLITE_PATH`, or PostgreSQL or MySQL from the `DB_*` settings.
pub async fn open_storage(config: &Config) -> Result<Arc<dyn Storage>, ServerError> {
    if config.db_driver == DbDriver::Mysql {
        let my = &config.mysql;
        let storage =
            MysqlStorage::connect(my.clone())
                .await
                .map_err(|source| ServerError::Mysql {
                    target: format!("{}@{}:{}/{}", my.user, my.host, my.port, my.dbname),
                    source,
                })?;
        return Ok(Arc::new(storage));
    }
    if config.db_driver == DbDriver::Postgres {
        let pg = &config.postgres;
        let storage =
            PgStorage::connect(pg.clone())
                .await
                .map_err(|source| ServerError::Postgres {
                    target: format!("{}@{}:{}/{}", pg.user, pg.host, pg.port, pg.dbname),
                    source,
                })?;
        return Ok(Arc::new(storage));
    }
    let storage = SqliteStorage::open(&config.sqlite_path, {
        let mut options = SqliteOptions::default();
        options.synchronous = config.sqlite_synchronous;
        options
    })
    .map_err(|source| ServerError::Sqlite {
        path: config.sqlite_path.clone(),
        source,
    })?;
    Ok(Arc::new(storage))
}

/// Writes `data` to `path`, readable and writable by the owner only (0600), replacing what was
/// there.
pub(crate) fn write_owner_only(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        // An older file keeps its mode on open: make sure it is the owner's only.
        if let Ok(meta) = std::fs::metadata(path) {
            let mut perms = meta.permissions();
            perms.set_mode(0o600);
            std::fs::set_permissions(path, perms)?;
        }
    }
    options.open(path)?.write_all(data)
}
