//! `SqliteStorage`: the conformance kit, plus what only a database file has (reopening, group
//! commit, failures of the file system and recovery from them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_core::{
    Conversation, HistoryPage, NewMessage, Receipt, Storage, StorageError, StoreOutcome, User,
    UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use easyim_server::{SqliteOptions, SqliteStorage, Synchronous};
use tempfile::TempDir;

fn user(id: UserId, account: &str) -> User {
    User {
        id,
        account: account.into(),
        nickname: format!("{account} nick"),
        avatar: String::new(),
        password_hash: "$argon2id$fake".into(),
        secret: format!("{account}-secret"),
    }
}

fn text(id: &str, from: UserId, to: u64, chat_type: ChatType, content: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        from,
        to,
        chat_type,
        msg_type: 0,
        content: content.into(),
        timestamp: 1_700_000_000_000,
    }
}

fn open(dir: &TempDir, opts: SqliteOptions) -> SqliteStorage {
    SqliteStorage::open(dir.path().join("easyim.db"), opts).expect("open")
}

fn conv_seq(outcome: StoreOutcome) -> u64 {
    match outcome {
        StoreOutcome::Stored { message, .. } => message.conv_seq,
        other => panic!("not stored: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    easyim_core::testkit::run_all(|| async {
        // Every check gets a fresh file; the directory lives as long as the test process.
        let dir = Box::leak(Box::new(TempDir::new().unwrap()));
        Arc::new(open(dir, SqliteOptions::default())) as Arc<dyn Storage>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reopen() {
    let dir = TempDir::new().unwrap();
    let (a, b, g) = (11, 12, 900);
    {
        let s = open(&dir, SqliteOptions::default());
        s.create_user(user(a, "alice")).await.unwrap();
        s.create_user(user(b, "bob")).await.unwrap();
        s.create_group(g, "g", a, &[b]).await.unwrap();
        for i in 1..=3 {
            let m = text(&format!("d{i}"), a, b, ChatType::Single, "hi");
            assert_eq!(conv_seq(s.store_message(m).await.unwrap()), i);
        }
        let m = text("g1", a, g, ChatType::Group, "all");
        assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1);
        let conv = Conversation::direct(a, b);
        assert!(s
            .record_receipt(b, conv, "d1", Receipt::Read)
            .await
            .unwrap()
            .is_some());
        assert_eq!(s.server_secret("first").await.unwrap(), "first");
    }
    // The old writer has stopped and closed its connection: the file alone holds the state.
    let s = open(&dir, SqliteOptions::default());
    assert_eq!(s.user(a).await.unwrap().unwrap().account, "alice");
    assert_eq!(s.user_by_account("bob").await.unwrap().unwrap().id, b);
    assert_eq!(s.server_secret("second").await.unwrap(), "first");
    assert_eq!(s.group(g).await.unwrap().unwrap().member_count, 2);
    // conv_seq continues where it was.
    let m = text("d4", a, b, ChatType::Single, "again");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 4);
    let m = text("g2", b, g, ChatType::Group, "back");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 2);
    // Resending an id stored before the restart is still a duplicate.
    let again = s
        .store_message(text("d2", a, b, ChatType::Single, "hi"))
        .await
        .unwrap();
    assert!(
        matches!(again, StoreOutcome::Duplicate(ref m) if m.conv_seq == 2),
        "{again:?}"
    );
    // Pending and cursors: bob receipted d1, so d2, d3, d4 and g1 are pending for him.
    let pending: Vec<String> = s
        .pending(b, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(pending, ["d2", "d3", "g1", "d4"]);
    let pending: Vec<String> = s
        .pending(a, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(pending, ["g2"]);
    let history = s
        .history(Conversation::direct(a, b), a, HistoryPage::After(0), 10)
        .await
        .unwrap();
    let statuses: Vec<MsgStatus> = history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [
            MsgStatus::Read,
            MsgStatus::Sent,
            MsgStatus::Sent,
            MsgStatus::Sent
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_gapless_seqs_in_group_commits() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, SqliteOptions::default()));
    let (g, members) = (77, 20u64);
    for u in 1..=members {
        s.create_user(user(u, &format!("u{u}"))).await.unwrap();
    }
    let others: Vec<UserId> = (2..=members).collect();
    s.create_group(g, "busy", 1, &others).await.unwrap();
    let (commits0, jobs0) = (s.commit_count(), s.job_count());

    let per_task = 100;
    let tasks: Vec<_> = (1..=members)
        .map(|u| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..per_task {
                    let m = text(&format!("{u}-{i}"), u, g, ChatType::Group, "x");
                    seqs.push(conv_seq(s.store_message(m).await.unwrap()));
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        // Each writer's own messages come in increasing order.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    let total = members * per_task;
    assert_eq!(all, (1..=total).collect::<Vec<_>>());

    let commits = s.commit_count() - commits0;
    let jobs = s.job_count() - jobs0;
    assert_eq!(jobs, total);
    println!("{jobs} writes in {commits} commits");
    assert!(
        commits < jobs,
        "no group commit: {jobs} writes took {commits} commits"
    );
    // Every member but the sender has each message pending except its own.
    let pending = s.pending(1, 0, 10_000).await.unwrap();
    assert_eq!(pending.len() as u64, total - per_task);
    assert!(pending
        .windows(2)
        .all(|w| w[0].order < w[1].order && w[0].message.conv_seq < w[1].message.conv_seq));
}

/// A write that fails inside a batch undoes only itself: the others of the batch commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_does_not_fail_its_batch() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(open(&dir, SqliteOptions::default()));
    s.create_user(user(1, "a")).await.unwrap();
    s.create_user(user(2, "b")).await.unwrap();
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                if i % 10 == 0 {
                    // Conflicts roll back to the job's savepoint.
                    s.create_user(user(100 + i, "a")).await.map(|_| 0)
                } else {
                    let m = text(&format!("m{i}"), 1, 2, ChatType::Single, "x");
                    s.store_message(m).await.map(conv_seq)
                }
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for c in calls {
        match c.await.unwrap() {
            Ok(0) => panic!("a duplicate account was created"),
            Ok(seq) => seqs.push(seq),
            Err(StorageError::Conflict("account")) => {}
            Err(e) => panic!("{e}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=180).collect::<Vec<_>>());
    assert_eq!(s.search_users("", 1000).await.unwrap().len(), 2);
}

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
                assert!(e.contains("full"), "{e}");
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
        .history(Conversation::direct(1, 2), 1, HistoryPage::After(0), 10_000)
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
        .history(Conversation::direct(1, 2), 1, HistoryPage::After(0), 10_000)
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
        s.history(Conversation::direct(1, 2), 1, HistoryPage::Latest, 10)
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

/// Throughput of concurrent 1:1 store_message calls. Run with:
/// `cargo test --release -p easyim-server --test sqlite_storage -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn throughput() {
    for sync in [Synchronous::Normal, Synchronous::Full] {
        let dir = TempDir::new().unwrap();
        let s = Arc::new(open(
            &dir,
            SqliteOptions {
                synchronous: sync,
                read_connections: 4,
            },
        ));
        let (tasks, per_task) = (50u64, 2000u64);
        for u in 1..=tasks + 1 {
            s.create_user(user(u, &format!("u{u}"))).await.unwrap();
        }
        let content = "c".repeat(64);
        let (commits0, jobs0) = (s.commit_count(), s.job_count());
        let started = Instant::now();
        let handles: Vec<_> = (1..=tasks)
            .map(|u| {
                let s = s.clone();
                let content = content.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        // Each task writes to its own conversation with user tasks + 1.
                        let m = text(
                            &format!("{u}-{i}"),
                            u,
                            tasks + 1,
                            ChatType::Single,
                            &content,
                        );
                        conv_seq(s.store_message(m).await.unwrap());
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let n = tasks * per_task;
        let commits = s.commit_count() - commits0;
        println!(
            "synchronous={sync}: {n} messages in {secs:.2}s = {:.0} msgs/s, {commits} commits ({:.1} per commit)",
            n as f64 / secs,
            (s.job_count() - jobs0) as f64 / commits as f64
        );
    }
}
