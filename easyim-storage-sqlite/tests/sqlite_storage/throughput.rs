//! Throughput of the writer (ignored by default).

use super::*;

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
