//! Commits: other connections, batches, group commits, a failed job.

use super::*;

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
