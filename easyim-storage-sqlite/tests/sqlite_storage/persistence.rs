//! The conformance kit, data across reopening, migration from version 1.

use super::*;

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
