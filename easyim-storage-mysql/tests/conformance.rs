//! `MysqlStorage` against a real MySQL or MariaDB: the storage conformance kit, conv_seq under two
//! nodes writing one conversation at once, concurrent migrations, and a throughput figure
//! (`--ignored`).
//!
//! The server comes from `EASYIM_TEST_MYSQL` (`mysql://user:password@host:port/dbname`; the
//! user needs to create and drop databases). Each check runs in a fresh database
//! (`easyim_t_...`), dropped afterwards. Without `EASYIM_TEST_MYSQL` the tests print a loud
//! notice and pass, unless `CI` is set: then they fail, so CI can never skip them silently.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use easyim_core::Storage;
use easyim_storage_mysql::{MysqlConfig, MysqlStorage};
use mysql_async::prelude::Queryable;

/// The test server's URL, or `None` (after a loud notice) when the test may skip.
fn database_url(test: &str) -> Option<String> {
    easyim_core::testkit::service_url(
        "EASYIM_TEST_MYSQL",
        test,
        "MySQL storage",
        "mysql://user:password@host:port/dbname",
    )
}

/// Fresh databases for one test, dropped by [`Databases::drop_all`].
struct Databases {
    url: String,
    prefix: String,
    next: AtomicUsize,
    made: Mutex<Vec<String>>,
}

impl Databases {
    fn new(url: String, test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Databases {
            url,
            prefix: format!("easyim_t_{test}_{}_{nanos}", std::process::id()),
            next: AtomicUsize::new(0),
            made: Mutex::new(Vec::new()),
        }
    }

    async fn admin(&self) -> mysql_async::Conn {
        let opts = mysql_async::Opts::from_url(&self.url).expect("EASYIM_TEST_MYSQL must be a URL");
        mysql_async::Conn::new(opts)
            .await
            .expect("connect to EASYIM_TEST_MYSQL")
    }

    /// A new, empty database's name.
    async fn fresh(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{n}", self.prefix);
        let mut admin = self.admin().await;
        // Names are ours: [a-z0-9_] only.
        admin
            .query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .expect("create a test database");
        drop(admin);
        self.made.lock().unwrap().push(name.clone());
        name
    }

    fn config(&self, db: &str, pool_size: usize) -> MysqlConfig {
        let mut config =
            MysqlConfig::from_url(&self.url).expect("EASYIM_TEST_MYSQL must be a valid URL");
        config.dbname = db.to_owned();
        config.pool_size = pool_size;
        config
    }

    async fn open(&self, db: &str, pool_size: usize) -> MysqlStorage {
        match MysqlStorage::connect(self.config(db, pool_size)).await {
            Ok(s) => s,
            Err(e) => panic!("cannot open MysqlStorage on EASYIM_TEST_MYSQL (database {db}): {e}"),
        }
    }

    /// Drops every database this test made.
    async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.made.lock().unwrap());
        let mut admin = self.admin().await;
        for name in names {
            admin
                .query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .expect("drop a test database");
        }
        let _ = admin.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(url) = database_url("conformance") else {
        return;
    };
    let dbs = Databases::new(url, "conf");
    easyim_core::testkit::run_all(|| async {
        let db = dbs.fresh().await;
        Arc::new(dbs.open(&db, 8).await) as Arc<dyn Storage>
    })
    .await;
    dbs.drop_all().await;
}

/// Two `MysqlStorage`s with their own pools ("two nodes") write one group and one 1:1
/// conversation at once, single messages and batches mixed: conv_seq must be 1..=N with no gap
/// and no duplicate, each writer's messages numbered in its send order, and the history must
/// agree with what the writers were told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_gapless_conv_seq() {
    let Some(url) = database_url("two_nodes_gapless_conv_seq") else {
        return;
    };
    let dbs = Databases::new(url, "nodes");
    let db = dbs.fresh().await;
    // Both nodes start at once on an empty database: the migration runs once.
    let (a, b) = tokio::join!(dbs.open(&db, 4), dbs.open(&db, 4));
    easyim_core::testkit::check_two_nodes_conv_seq(Arc::new(a), Arc::new(b)).await;
    dbs.drop_all().await;
}

/// Several nodes migrating one fresh database at once, then again (nothing to do): all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations() {
    let Some(url) = database_url("concurrent_migrations") else {
        return;
    };
    let dbs = Databases::new(url, "mig");
    let db = dbs.fresh().await;
    easyim_core::testkit::check_concurrent_migrations(|| async {
        Arc::new(dbs.open(&db, 1).await) as Arc<dyn Storage>
    })
    .await;
    dbs.drop_all().await;
}

/// An unreachable database is `Unavailable`, not a panic or a hang.
#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let mut config = MysqlConfig::default();
    config.host = "127.0.0.1".to_owned();
    config.port = 1; // nothing listens there
    config.pool_size = 1;
    match MysqlStorage::connect(config).await {
        Err(easyim_core::StorageError::Unavailable(_)) => {}
        Err(e) => panic!("want Unavailable, got {e:?}"),
        Ok(_) => panic!("connected to port 1?"),
    }
    assert!(matches!(
        MysqlStorage::from_url("not a url").await,
        Err(easyim_core::StorageError::Unavailable(_))
    ));
}

/// Throughput of `store_messages` batches and of single `store_message` calls from concurrent
/// writers, printed in messages per second. Run with
/// `cargo test -p easyim-storage-mysql --release -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
async fn throughput() {
    let Some(url) = database_url("throughput") else {
        return;
    };
    let dbs = Databases::new(url, "tput");
    let db = dbs.fresh().await;
    let storage = Arc::new(dbs.open(&db, 16).await);
    easyim_core::testkit::measure_store_throughput(storage).await;
    dbs.drop_all().await;
}

/// Two nodes' dispatchers share one outbox: each event is claimed by exactly one of them, and
/// each key's events are handed out (and acknowledged) in the order written, across nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_the_outbox() {
    let Some(url) = database_url("two_nodes_share_the_outbox") else {
        return;
    };
    let dbs = Databases::new(url, "outbox");
    let db = dbs.fresh().await;
    let a = Arc::new(dbs.open(&db, 4).await);
    let b = Arc::new(dbs.open(&db, 4).await);
    easyim_core::testkit::check_two_nodes_share_outbox(a, b).await;
    dbs.drop_all().await;
}
