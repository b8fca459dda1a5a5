//! `PgStorage` against a real PostgreSQL: the storage conformance kit, conv_seq under two nodes
//! writing one conversation at once, concurrent migrations, and a throughput figure
//! (`--ignored`).
//!
//! The database comes from `EASYIM_TEST_PG` (`postgres://user:password@host:port/dbname`; the
//! user needs `CREATE` on the database). Each check runs in a fresh PostgreSQL schema
//! (`easyim_t_...`), dropped afterwards. Without `EASYIM_TEST_PG` the tests print a loud notice
//! and pass, unless `CI` is set: then they fail, so CI can never skip them silently.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use easyim_core::Storage;
use easyim_storage_postgres::{PgConfig, PgStorage};

/// The test database's URL, or `None` (after a loud notice) when the test may skip.
fn database_url(test: &str) -> Option<String> {
    easyim_core::testkit::service_url(
        "EASYIM_TEST_PG",
        test,
        "PostgreSQL storage",
        "postgres://user:password@host:port/dbname",
    )
}

/// Fresh schemas for one test, dropped by [`Schemas::drop_all`].
struct Schemas {
    url: String,
    prefix: String,
    next: AtomicUsize,
    made: Mutex<Vec<String>>,
}

impl Schemas {
    fn new(url: String, test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Schemas {
            url,
            prefix: format!("easyim_t_{test}_{}_{nanos}", std::process::id()),
            next: AtomicUsize::new(0),
            made: Mutex::new(Vec::new()),
        }
    }

    /// A new schema's name (created by the first `PgStorage` that uses it).
    fn fresh(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{n}", self.prefix);
        self.made.lock().unwrap().push(name.clone());
        name
    }

    fn config(&self, schema: &str, pool_size: usize) -> PgConfig {
        let mut config = PgConfig::from_url(&self.url).expect("EASYIM_TEST_PG must be a valid URL");
        config.schema = Some(schema.to_owned());
        config.pool_size = pool_size;
        config
    }

    async fn open(&self, schema: &str, pool_size: usize) -> PgStorage {
        match PgStorage::connect(self.config(schema, pool_size)).await {
            Ok(s) => s,
            Err(e) => panic!("cannot open PgStorage on EASYIM_TEST_PG (schema {schema}): {e}"),
        }
    }

    /// Drops every schema this test made.
    async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.made.lock().unwrap());
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to drop the test schemas");
        let conn = tokio::spawn(conn);
        for name in names {
            // Names are ours: [a-z0-9_] only.
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await
                .expect("drop a test schema");
        }
        drop(client);
        let _ = conn.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(url) = database_url("conformance") else {
        return;
    };
    let schemas = Schemas::new(url, "conf");
    easyim_core::testkit::run_all(|| async {
        let schema = schemas.fresh();
        Arc::new(schemas.open(&schema, 8).await) as Arc<dyn Storage>
    })
    .await;
    schemas.drop_all().await;
}

/// Two `PgStorage`s with their own pools ("two nodes") write one group and one 1:1
/// conversation at once, single messages and batches mixed: conv_seq must be 1..=N with no gap
/// and no duplicate, each writer's messages numbered in its send order, and the history must
/// agree with what the writers were told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_gapless_conv_seq() {
    let Some(url) = database_url("two_nodes_gapless_conv_seq") else {
        return;
    };
    let schemas = Schemas::new(url, "nodes");
    let schema = schemas.fresh();
    // Both nodes start at once on an empty schema: the migration runs once.
    let (a, b) = tokio::join!(schemas.open(&schema, 4), schemas.open(&schema, 4));
    easyim_core::testkit::check_two_nodes_conv_seq(Arc::new(a), Arc::new(b)).await;
    schemas.drop_all().await;
}

/// Several nodes migrating one fresh schema at once, then again (nothing to do): all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations() {
    let Some(url) = database_url("concurrent_migrations") else {
        return;
    };
    let schemas = Schemas::new(url, "mig");
    let schema = schemas.fresh();
    easyim_core::testkit::check_concurrent_migrations(|| async {
        Arc::new(schemas.open(&schema, 1).await) as Arc<dyn Storage>
    })
    .await;
    schemas.drop_all().await;
}

/// An unreachable database is `Unavailable`, not a panic or a hang.
#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let mut config = PgConfig::default();
    config.host = "127.0.0.1".to_owned();
    config.port = 1; // nothing listens there
    config.pool_size = 1;
    match PgStorage::connect(config).await {
        Err(easyim_core::StorageError::Unavailable(_)) => {}
        Err(e) => panic!("want Unavailable, got {e:?}"),
        Ok(_) => panic!("connected to port 1?"),
    }
    let mut bad = PgConfig::default();
    bad.schema = Some("Robert'); DROP TABLE users;--".to_owned());
    assert!(matches!(
        PgStorage::connect(bad).await,
        Err(easyim_core::StorageError::Unavailable(_))
    ));
}

/// Throughput of `store_messages` batches and of single `store_message` calls from concurrent
/// writers, printed in messages per second. Run with
/// `cargo test -p easyim-storage-postgres --release -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
async fn throughput() {
    let Some(url) = database_url("throughput") else {
        return;
    };
    let schemas = Schemas::new(url, "tput");
    let schema = schemas.fresh();
    let storage = Arc::new(schemas.open(&schema, 16).await);
    easyim_core::testkit::measure_store_throughput(storage).await;
    schemas.drop_all().await;
}

/// Two nodes' dispatchers share one outbox: each event is claimed by exactly one of them, and
/// each key's events are handed out (and acknowledged) in the order written, across nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_the_outbox() {
    let Some(url) = database_url("two_nodes_share_the_outbox") else {
        return;
    };
    let schemas = Schemas::new(url, "outbox");
    let schema = schemas.fresh();
    let a = Arc::new(schemas.open(&schema, 4).await);
    let b = Arc::new(schemas.open(&schema, 4).await);
    easyim_core::testkit::check_two_nodes_share_outbox(a, b).await;
    schemas.drop_all().await;
}
