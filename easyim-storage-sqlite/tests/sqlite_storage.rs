//! `SqliteStorage`: the conformance kit, plus what only a database file has (reopening, group
//! commit, failures of the file system and recovery from them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_core::{
    AccountStore, Conflict, Conversation, ConversationStore, GroupStore, HistoryPage, MessageStore,
    NewMessage, Receipt, Storage, StorageError, StoreOutcome, User, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
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
        ref_id: String::new(),
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
        .history(Conversation::direct(a, b), HistoryPage::After(0), 10)
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

/// A database written by a build with schema version 1 (text conversation keys) opens and
/// migrates: conv_seq continues, ids stay idempotent, cursors and receipts are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_migrated() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("easyim.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "
            PRAGMA journal_mode = WAL;
            CREATE TABLE users (id INTEGER PRIMARY KEY, account TEXT NOT NULL UNIQUE,
                nickname TEXT NOT NULL, avatar TEXT NOT NULL, password_hash TEXT NOT NULL,
                secret TEXT NOT NULL);
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE friend_requests (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE,
                from_user INTEGER NOT NULL, to_user INTEGER NOT NULL, msg TEXT NOT NULL,
                status INTEGER NOT NULL);
            CREATE INDEX friend_requests_to ON friend_requests (to_user, seq);
            CREATE INDEX friend_requests_pair ON friend_requests (from_user, to_user, status);
            CREATE TABLE friends (user_id INTEGER NOT NULL, friend_id INTEGER NOT NULL,
                PRIMARY KEY (user_id, friend_id)) WITHOUT ROWID;
            CREATE TABLE chat_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                owner INTEGER NOT NULL);
            CREATE TABLE members (group_id INTEGER NOT NULL REFERENCES chat_groups (id),
                user_id INTEGER NOT NULL REFERENCES users (id),
                PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;
            CREATE INDEX members_user ON members (user_id, group_id);
            CREATE TABLE convs (conv TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE messages (gseq INTEGER PRIMARY KEY, conv TEXT NOT NULL,
                conv_seq INTEGER NOT NULL, msg_id TEXT NOT NULL, from_user INTEGER NOT NULL,
                to_id INTEGER NOT NULL, chat_type INTEGER NOT NULL, msg_type INTEGER NOT NULL,
                content TEXT NOT NULL, ts INTEGER NOT NULL,
                UNIQUE (conv, conv_seq), UNIQUE (conv, msg_id));
            CREATE TABLE cursors (user_id INTEGER NOT NULL, conv TEXT NOT NULL,
                arrived_seq INTEGER NOT NULL, read_seq INTEGER NOT NULL,
                PRIMARY KEY (user_id, conv)) WITHOUT ROWID;
            INSERT INTO users VALUES (1, 'a', 'a', '', 'h', 's'), (2, 'b', 'b', '', 'h', 's'),
                                     (3, 'c', 'c', '', 'h', 's');
            INSERT INTO chat_groups VALUES (9, 'g', 1), (8, 'quiet', 1);
            INSERT INTO members VALUES (9, 1), (9, 2), (8, 1), (8, 3);
            INSERT INTO convs VALUES ('d:1:2', 2), ('g:9', 1);
            INSERT INTO messages VALUES
                (1, 'd:1:2', 1, 'd1', 1, 2, 1, 0, 'one', 5),
                (2, 'g:9', 1, 'g1', 1, 9, 2, 0, 'all', 6),
                (3, 'd:1:2', 2, 'd2', 2, 1, 1, 0, 'two', 7);
            INSERT INTO cursors VALUES (1, 'd:1:2', 0, 0), (2, 'd:1:2', 1, 1), (1, 'g:9', 0, 0),
                                       (2, 'g:9', 0, 0), (1, 'g:8', 0, 0), (3, 'g:8', 0, 0);
            PRAGMA user_version = 1;
            ",
        )
        .unwrap();
    }
    let s = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
    let conv = Conversation::direct(1, 2);
    // Version 4 fills in each conversation's last message and each user's own newest one.
    let list = s.conversations(1, None, 10).await.unwrap();
    let got: Vec<_> = list
        .items
        .iter()
        .map(|e| {
            (
                e.conversation,
                e.last_seq,
                e.own_seq,
                e.unread(),
                e.updated_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (conv, 2, 1, 1, 7),
            (Conversation::Group(9), 1, 1, 0, 6),
            (Conversation::Group(8), 0, 0, 0, 0)
        ]
    );
    assert_eq!(list.total_unread, 1);
    assert_eq!(
        list.items[0].last_message.as_ref().map(|m| m.id.as_str()),
        Some("d2")
    );
    let seqs = |h: Vec<easyim_core::HistoryItem>| -> Vec<(String, u64, MsgStatus)> {
        h.into_iter()
            .map(|h| (h.message.id, h.message.conv_seq, h.status))
            .collect()
    };
    assert_eq!(
        seqs(s.history(conv, HistoryPage::After(0), 10).await.unwrap()),
        [
            ("d1".into(), 1, MsgStatus::Read),
            ("d2".into(), 2, MsgStatus::Sent)
        ]
    );
    let pending = |u| {
        let s = &s;
        async move {
            s.pending(u, 0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.message.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(pending(1).await, ["d2"]);
    assert_eq!(pending(2).await, ["g1"]);
    // Idempotency across the migration, then conv_seq goes on.
    let again = s
        .store_message(text("d1", 1, 2, ChatType::Single, "one"))
        .await
        .unwrap();
    assert!(
        matches!(again, StoreOutcome::Duplicate(ref m) if m.conv_seq == 1 && m.content == "one"),
        "{again:?}"
    );
    assert_eq!(
        s.store_message(text("d1", 2, 1, ChatType::Single, "x"))
            .await
            .unwrap(),
        StoreOutcome::IdTaken
    );
    let m = text("d3", 1, 2, ChatType::Single, "three");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 3);
    let m = text("g2", 2, 9, ChatType::Group, "back");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 2);
    // A group without messages had only cursors: its first message is 1, pending for c.
    let m = text("q1", 1, 8, ChatType::Group, "hello");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1);
    assert_eq!(pending(3).await, ["q1"]);
    assert_eq!(pending(1).await, ["d2", "g2"]);
    // Receipts work on migrated conversations.
    assert!(s
        .record_receipt(2, conv, "d3", Receipt::Arrived)
        .await
        .unwrap()
        .is_some());
    assert_eq!(pending(2).await, ["g1"]);
    // The members from before version 5: the owner is the owner, the others members, unmuted,
    // with join position 0 (they keep seeing the whole history).
    let standing = easyim_core::ModerationStore::member_state(&s, 9, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (standing.role, standing.muted_until, standing.joined_seq),
        (easyim_core::Role::Member, 0, 0)
    );
    let owner = easyim_core::ModerationStore::member_state(&s, 9, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.role, easyim_core::Role::Owner);
    drop(s);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8, "migrated to the current schema");
}

/// Another process writing to the same file (another node): the writer notices its commits
/// and numbers on from what is stored, not from what it remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_by_another_connection_are_seen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("easyim.db");
    let s = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
    s.create_user(user(1, "a")).await.unwrap();
    s.create_user(user(2, "b")).await.unwrap();
    s.create_group(5, "g", 1, &[2]).await.unwrap();
    let m = text("m1", 1, 2, ChatType::Single, "x");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1);
    let m = text("g1", 1, 5, ChatType::Group, "x");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 1);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "INSERT INTO messages (conv, conv_seq, msg_id, from_user, to_id, chat_type,
                                   msg_type, content, ts)
             SELECT id, 2, 'other', 2, 1, 1, 0, 'y', 0 FROM convs WHERE key = 'd:1:2';
             DELETE FROM members WHERE group_id = 5 AND user_id = 2;",
        )
        .unwrap();
    }
    let m = text("m2", 1, 2, ChatType::Single, "x");
    assert_eq!(conv_seq(s.store_message(m).await.unwrap()), 3);
    let m = text("other", 2, 1, ChatType::Single, "x");
    assert!(matches!(
        s.store_message(m).await.unwrap(),
        StoreOutcome::Duplicate(_)
    ));
    let m = text("g2", 2, 5, ChatType::Group, "x");
    assert_eq!(s.store_message(m).await.unwrap(), StoreOutcome::NotMember);
}

/// Several messages in one `store_messages` call: each gets what `store_message` would give it,
/// in order, and a duplicate within the batch is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_messages_is_one_commit_with_per_message_outcomes() {
    let dir = TempDir::new().unwrap();
    let s = open(&dir, SqliteOptions::default());
    s.create_user(user(1, "a")).await.unwrap();
    s.create_user(user(2, "b")).await.unwrap();
    s.create_group(5, "g", 1, &[2]).await.unwrap();
    let commits0 = s.commit_count();
    let out = s
        .store_messages(vec![
            text("m1", 1, 2, ChatType::Single, "x"),
            text("m2", 1, 2, ChatType::Single, "x"),
            text("m1", 1, 2, ChatType::Single, "x"),
            text("m1", 2, 1, ChatType::Single, "x"),
            text("n1", 1, 99, ChatType::Single, "x"),
            text("g1", 2, 5, ChatType::Group, "x"),
            text("g1", 3, 6, ChatType::Group, "x"),
            text("m3", 2, 1, ChatType::Single, "x"),
        ])
        .await
        .unwrap();
    assert_eq!(s.commit_count() - commits0, 1);
    assert_eq!(out.len(), 8);
    assert_eq!(conv_seq(out[0].clone()), 1);
    assert_eq!(conv_seq(out[1].clone()), 2);
    assert!(matches!(out[2], StoreOutcome::Duplicate(ref m) if m.conv_seq == 1));
    assert_eq!(out[3], StoreOutcome::IdTaken);
    assert_eq!(out[4], StoreOutcome::NoUser);
    assert!(
        matches!(out[5], StoreOutcome::Stored { ref message, ref recipients }
            if message.conv_seq == 1 && recipients == &[1])
    );
    assert_eq!(out[6], StoreOutcome::NoGroup);
    assert_eq!(conv_seq(out[7].clone()), 3);
    assert!(s.store_messages(Vec::new()).await.unwrap().is_empty());
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
            Err(StorageError::Conflict(Conflict::Account)) => {}
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

/// Throughput of concurrent 1:1 writes: `store_message` one at a time, then `store_messages`
/// with batches of 32, each for synchronous NORMAL and FULL. Prints the figures, asserts no
/// timing. Run with:
/// `cargo test --release -p easyim-storage-sqlite --test sqlite_storage -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn throughput() {
    for batch in [1, 32] {
        for sync in [Synchronous::Normal, Synchronous::Full] {
            throughput_of(sync, batch).await;
        }
    }
}

/// 50 tasks, each writing 2000 messages to its own conversation with one shared peer, `batch`
/// at a time (1: `store_message`, else `store_messages`).
async fn throughput_of(sync: Synchronous, batch: usize) {
    let dir = TempDir::new().unwrap();
    let mut options = SqliteOptions::default();
    options.synchronous = sync;
    options.read_connections = 4;
    let s = Arc::new(open(&dir, options));
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
                let mut last = 0;
                let ids: Vec<u64> = (0..per_task).collect();
                for chunk in ids.chunks(batch) {
                    // Each task writes to its own conversation with user tasks + 1.
                    let msgs: Vec<NewMessage> = chunk
                        .iter()
                        .map(|i| {
                            text(
                                &format!("{u}-{i}"),
                                u,
                                tasks + 1,
                                ChatType::Single,
                                &content,
                            )
                        })
                        .collect();
                    let outcomes = if batch == 1 {
                        let m = msgs.into_iter().next().unwrap();
                        vec![s.store_message(m).await.unwrap()]
                    } else {
                        s.store_messages(msgs).await.unwrap()
                    };
                    for o in outcomes {
                        let seq = conv_seq(o);
                        assert_eq!(seq, last + 1);
                        last = seq;
                    }
                }
                assert_eq!(last, per_task);
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n = tasks * per_task;
    let commits = s.commit_count() - commits0;
    let jobs = s.job_count() - jobs0;
    println!(
        "synchronous={sync} batch={batch}: {n} messages in {secs:.2}s = {:.0} msgs/s, \
         {jobs} writes in {commits} commits ({:.1} per commit)",
        n as f64 / secs,
        jobs as f64 / commits as f64
    );
}
