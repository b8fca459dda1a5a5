//! A full disk and a locked database: writes fail, then recover.

use super::*;

/// A full disk, simulated with `PRAGMA max_page_count` on the writer connection (SQLite then
/// fails writes that need a new page with SQLITE_FULL, exactly as when the file system is
/// full; permissions would not do, since root ignores them). Writes fail with `Unavailable`,
/// what failed is not stored, and once room is back writes succeed again, gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_fails_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, SqliteOptions::default()));
    s.create_user(user(1, "a")).await.unwrap();
    s.create_user(user(2, "b")).await.unwrap();
    let content = "x".repeat(200);
    let limit = s.set_max_page_count(1).await.unwrap();
    assert!(limit > 1, "the cap is never below the current size");

    let mut stored = 0u64;
    let mut failed = 0;
    for i in 0..2000 {
        let m = text(&format!("m{i}"), 1, 2, ChatType::Single, &content);
        match s.store_message(m).await {
            Ok(outcome) => {
                stored += 1;
                assert_eq!(conv_seq(outcome), stored, "gapless while the disk fills");
            }
            Err(StorageError::Unavailable(e)) => {
                assert!(e.to_string().contains("full"), "{e}");
                failed += 1;
                if failed == 20 {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(failed, 20, "the capped database never filled up");
    // A burst of concurrent writes while full: each fails or succeeds alone.
    let burst: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            let m = text(&format!("burst{i}"), 1, 2, ChatType::Single, &content);
            tokio::spawn(async move { s.store_message(m).await })
        })
        .collect();
    for b in burst {
        match b.await.unwrap() {
            Ok(_) => stored += 1,
            Err(StorageError::Unavailable(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let history = s
        .history(Conversation::direct(1, 2), HistoryPage::After(0), 10_000)
        .await
        .unwrap();
    assert_eq!(
        history.len() as u64,
        stored,
        "a failed write left something"
    );
    // Reads still work while writes fail.
    s.ping().await.unwrap();

    // Room again: writes succeed and conv_seq continues without a gap.
    s.set_max_page_count(1 << 30).await.unwrap();
    for i in 0..10 {
        let m = text(&format!("after{i}"), 1, 2, ChatType::Single, &content);
        assert_eq!(conv_seq(s.store_message(m).await.unwrap()), stored + 1);
        stored += 1;
    }
    let seqs: Vec<u64> = s
        .history(Conversation::direct(1, 2), HistoryPage::After(0), 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.message.conv_seq)
        .collect();
    assert_eq!(seqs, (1..=stored).collect::<Vec<_>>());
}

/// Another process holds the write lock (here a second connection in `BEGIN EXCLUSIVE`) for
/// longer than the busy timeout: writes fail with `Unavailable` and store nothing, reads go on,
/// and when the lock is released writes succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_database_fails_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("easyim.db");
    let s = Arc::new(SqliteStorage::open(&path, SqliteOptions::default()).unwrap());
    s.create_user(user(1, "a")).await.unwrap();
    s.create_user(user(2, "b")).await.unwrap();
    let m = text("m0", 1, 2, ChatType::Single, "x");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1);

    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        c.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();

    let started = Instant::now();
    let calls: Vec<_> = (1..=5)
        .map(|i| {
            let s = s.clone();
            let m = text(&format!("m{i}"), 1, 2, ChatType::Single, "x");
            tokio::spawn(async move { s.store_message(m).await })
        })
        .collect();
    for c in calls {
        let r = c.await.unwrap();
        assert!(matches!(r, Err(StorageError::Unavailable(_))), "{r:?}");
    }
    assert!(started.elapsed() >= Duration::from_secs(4), "no busy wait");
    assert_eq!(
        s.history(Conversation::direct(1, 2), HistoryPage::Latest, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    release_tx.send(()).unwrap();
    locker.join().unwrap();

    for i in 1..=3 {
        let m = text(&format!("m{i}"), 1, 2, ChatType::Single, "x");
        assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1 + i);
    }
}
