//! Nothing lost: the real `easyim` binary is SIGKILLed in the middle of a load and restarted on
//! the same folder, and every acked message must still be there, pending for its recipients
//! and in the history, with gapless `conv_seq` and no duplicates; then a storage that fails
//! under a running server: E_INTERNAL, nothing acked, and recovery by itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use easyim_core::testkit::FailingStorage;
use easyim_core::Conversation;
use easyim_server::{SqliteOptions, SqliteStorage};
use rand::Rng;
use serde_json::{json, Value};

/// Messages a sender of the crash test may have in flight (sent, not acked yet).
const WINDOW: usize = 64;

mod support;
use support::*;

fn conv_of(v: &Value) -> Conversation {
    let (from, to) = (
        field(v, "from_user_id").parse::<u64>().unwrap(),
        field(v, "to_user_id").parse::<u64>().unwrap(),
    );
    if num(v, "chat_type") == 1 {
        Conversation::Group(to)
    } else {
        Conversation::direct(from, to)
    }
}

// ---- the crash test ------------------------------------------------------------------------

/// What the test knows about a message: who sent it where, and its conv_seq once acked.
#[derive(Clone)]
struct Sent {
    from: u64,
    to: u64,
    chat_type: u8,
    conv: Conversation,
    acked: Option<u64>,
}

type Book = Arc<Mutex<BTreeMap<String, Sent>>>;

/// One sender: writes messages flat out (alternating its 1:1 peer and the group) while a
/// second task records every ack, until the connection dies.
async fn load(addr: SocketAddr, me: &User, peer: u64, group: u64, round: usize, book: Book) {
    let mut c = Client::login(addr, Kind::Lines, me).await;
    let me_id = me.uid();
    let reader_book = book.clone();
    // At most WINDOW messages in flight: enough to keep the server busy, few enough that the
    // resends after the crash stay short.
    let window = Arc::new(tokio::sync::Semaphore::new(WINDOW));
    let reader_window = window.clone();
    let mut frames = c.take_frames();
    let reader = tokio::spawn(async move {
        // Ends when the server dies and the connection closes.
        while let Some(v) = frames.read_json().await {
            let mt = num(&v, "msg_type");
            if mt == 5 {
                panic!("an error during the load: {v}");
            }
            if field(&v, "from_user_id") == me_id.to_string() && mt < 4 {
                let seq = num(&v, "conv_seq");
                assert!(seq > 0, "ack without conv_seq: {v}");
                let mut b = reader_book.lock().unwrap();
                let s = b.get_mut(&field(&v, "id")).expect("an ack for a sent id");
                assert!(s.acked.is_none(), "acked twice: {v}");
                s.acked = Some(seq);
                reader_window.add_permits(1);
            }
        }
        reader_window.close();
    });
    for n in 0..50_000 {
        match window.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => break,
        }
        let id = format!("r{round}-u{me_id}-{n}");
        let (to, chat_type, conv) = if n % 2 == 0 {
            (peer, 0, Conversation::direct(me_id, peer))
        } else {
            (group, 1, Conversation::Group(group))
        };
        book.lock().unwrap().insert(
            id.clone(),
            Sent {
                from: me_id,
                to,
                chat_type,
                conv,
                acked: None,
            },
        );
        if c.send_json(&chat(&id, me_id, to, chat_type)).await.is_err() {
            break;
        }
    }
    // The server is killed long before 50,000 messages; wait for the end of the connection.
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the connection ends when the server dies")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_survive_sigkill_gapless_and_without_duplicates() {
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &[]).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(register(server.api, &format!("crash{i}")).await);
    }
    let ids: Vec<u64> = users.iter().map(|u| u.uid()).collect();
    let members: Vec<&User> = users.iter().collect();
    let group: u64 = create_group(server.api, &users[0], &members)
        .await
        .parse()
        .unwrap();
    let users = Arc::new(users);
    let book: Book = Arc::default();
    // Receipt cursors: (user, conversation) -> the conv_seq the user acknowledged.
    let mut cursors: HashMap<(u64, Conversation), u64> = HashMap::new();

    for round in 0..3 {
        // Load, and SIGKILL at a random moment.
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (users, book) = (users.clone(), book.clone());
            let addr = server.im;
            tasks.push(tokio::spawn(async move {
                load(addr, &users[i], users[i ^ 1].uid(), group, round, book).await
            }));
        }
        let delay = rand::thread_rng().gen_range(200..=1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        for t in tasks {
            t.await.expect("a sender task");
        }
        let (sent, acked) = {
            let b = book.lock().unwrap();
            (b.len(), b.values().filter(|s| s.acked.is_some()).count())
        };
        eprintln!("round {round}: killed after {delay} ms; {sent} sent in all, {acked} acked");

        server = spawn(dir.path(), &[]).await;

        // A. Every sender resends what got no ack, with the same id, and a few acked ones:
        // each gets one ack, and an acked one keeps its conv_seq.
        for (i, u) in users.iter().enumerate() {
            let todo: Vec<(String, Sent)> = {
                let b = book.lock().unwrap();
                let mine = b.iter().filter(|(_, s)| s.from == u.uid());
                let unacked = mine.clone().filter(|(_, s)| s.acked.is_none());
                let acked = mine.filter(|(_, s)| s.acked.is_some()).take(3);
                unacked
                    .chain(acked)
                    .map(|(k, s)| (k.clone(), s.clone()))
                    .collect()
            };
            let mut c = Client::login(server.im, Kind::Lines, u).await;
            for (id, s) in &todo {
                c.send_json(&chat(id, s.from, s.to, s.chat_type))
                    .await
                    .unwrap();
            }
            let mut want: HashMap<String, Option<u64>> =
                todo.iter().map(|(k, s)| (k.clone(), s.acked)).collect();
            while !want.is_empty() {
                let v = c.next_json().await.expect("acks of the resends");
                assert_ne!(num(&v, "msg_type"), 5, "an error on resend: {v}");
                if field(&v, "from_user_id") != u.uid().to_string() {
                    continue; // a pending delivery
                }
                let id = field(&v, "id");
                let before = want.remove(&id).expect("one ack per resend");
                let seq = num(&v, "conv_seq");
                if let Some(b) = before {
                    assert_eq!(b, seq, "a resent acked message keeps its conv_seq ({id})");
                }
                book.lock().unwrap().get_mut(&id).unwrap().acked = Some(seq);
            }
            eprintln!("round {round}: user {i} resent {} messages", todo.len());
        }

        // Everything the test sent is acked now, and nothing else was stored.
        let all: Vec<(String, Sent)> = book
            .lock()
            .unwrap()
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        assert!(all.iter().all(|(_, s)| s.acked.is_some()));

        // B. Each recipient logs in: exactly what it has not receipted is pending, in conv_seq
        // order per conversation; then it receipts the newest of each conversation.
        for u in users.iter() {
            let mut c = Client::login(server.im, Kind::Lines, u).await;
            let replay = c.sync(u.uid(), "hb-replay").await;
            let mut newest: HashMap<Conversation, (u64, Value)> = HashMap::new();
            let mut got = HashSet::new();
            for v in &replay {
                assert_eq!(num(v, "msg_type"), 0, "only deliveries: {v}");
                let conv = conv_of(v);
                let seq = num(v, "conv_seq");
                assert!(got.insert(field(v, "id")), "pushed twice at one login: {v}");
                let e = newest.entry(conv).or_insert((0, Value::Null));
                assert!(seq > e.0, "conv_seq order per conversation: {v}");
                *e = (seq, v.clone());
            }
            let expected: HashSet<String> = all
                .iter()
                .filter(|(_, s)| {
                    let recipient = match s.conv {
                        Conversation::Group(_) => s.from != u.uid(),
                        Conversation::Direct { .. } => s.to == u.uid(),
                    };
                    recipient
                        && s.acked.unwrap() > cursors.get(&(u.uid(), s.conv)).copied().unwrap_or(0)
                })
                .map(|(k, _)| k.clone())
                .collect();
            let missing: Vec<_> = expected.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(&expected).take(5).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "user {}: pending missing {missing:?}, unexpected {extra:?}",
                u.uid()
            );
            for (conv, (seq, v)) in &newest {
                let to = match conv {
                    Conversation::Group(g) => *g,
                    Conversation::Direct { .. } => field(v, "from_user_id").parse().unwrap(),
                };
                c.send_json(
                    &json!({"id": field(v, "id"), "status": 2, "from_user_id": u.uid().to_string(),
                               "to_user_id": to.to_string(), "chat_type": num(v, "chat_type")}),
                )
                .await
                .unwrap();
                cursors.insert((u.uid(), *conv), *seq);
            }
            // The heartbeat's answer comes after the receipts were recorded.
            let after = c.sync(u.uid(), "hb-receipts").await;
            assert!(after.is_empty(), "nothing but the heartbeat: {after:?}");
        }

        // C. History: gapless 1..N per conversation, no duplicate, every acked message with
        // its acked conv_seq.
        let convs = [
            (Conversation::direct(ids[0], ids[1]), &users[0], 0, ids[1]),
            (Conversation::direct(ids[2], ids[3]), &users[2], 0, ids[3]),
            (Conversation::Group(group), &users[3], 1, group),
        ];
        for (conv, viewer, chat_type, peer) in convs {
            let items = history(server.api, &viewer.token, chat_type, peer).await;
            let stored: BTreeMap<String, u64> = all
                .iter()
                .filter(|(_, s)| s.conv == conv)
                .map(|(k, s)| (k.clone(), s.acked.unwrap()))
                .collect();
            let mut seen = HashSet::new();
            for (i, v) in items.iter().enumerate() {
                assert_eq!(num(v, "conv_seq"), i as u64 + 1, "gapless in {conv}: {v}");
                let id = field(v, "id");
                assert!(seen.insert(id.clone()), "duplicate in {conv}: {v}");
                assert_eq!(stored.get(&id), Some(&(i as u64 + 1)), "{conv}: {v}");
            }
            assert_eq!(items.len(), stored.len(), "{conv}: every acked message");
        }
        eprintln!(
            "round {round}: verified ({:.1} s so far)",
            t_start.elapsed().as_secs_f64()
        );
    }
    drop(server);
}

// ---- storage failure under a running server ------------------------------------------------

/// SQLite that fails every call on demand, as a lost disk would.
type Flaky = FailingStorage<SqliteStorage>;

fn is_error(v: &Value, code: &str) -> bool {
    num(v, "msg_type") == 5 && field(v, "content").starts_with(code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failure_is_e_internal_nothing_acked_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Flaky::with_reason(
        SqliteStorage::open(dir.path().join("flaky.db"), SqliteOptions::default()).unwrap(),
        "disk I/O error (injected)",
    ));
    let server = start_with_storage(storage.clone(), &[]).await;
    let (im, api) = (server.im, server.api);

    let a = register(api, "flaky-a").await;
    let b = register(api, "flaky-b").await;
    let c = register(api, "flaky-c").await;
    let group: u64 = create_group(api, &a, &[&b, &c]).await.parse().unwrap();
    let mut ca = Client::login(im, Kind::Lines, &a).await;
    let mut cb = Client::login(im, Kind::Lines, &b).await;

    ca.send_json(&chat("m1", a.uid(), b.uid(), 0))
        .await
        .unwrap();
    let ack = ca.next_json().await.unwrap();
    assert_eq!((field(&ack, "id"), num(&ack, "conv_seq")), ("m1".into(), 1));
    assert_eq!(field(&cb.next_json().await.unwrap(), "id"), "m1");
    assert_eq!(http(api, "GET", "/healthz", None).await.0, 200);

    // Storage goes away.
    storage.fail_all(true);
    for (id, to, ct) in [("m2", b.uid(), 0), ("m3", b.uid(), 0), ("g1", group, 1)] {
        ca.send_json(&chat(id, a.uid(), to, ct)).await.unwrap();
        let v = ca.next_json().await.unwrap();
        assert!(is_error(&v, "E_INTERNAL"), "{id}: {v}");
        assert_eq!(field(&v, "id"), id, "the error names the frame");
    }
    // Both connections go on (a heartbeat is answered), and nothing reached the recipient.
    assert!(ca.sync(a.uid(), "hb-a").await.is_empty());
    assert!(
        cb.sync(b.uid(), "hb-b").await.is_empty(),
        "nothing delivered"
    );
    let (status, v) = http(api, "GET", "/healthz", None).await;
    assert_eq!(status, 503, "{v}");
    // A login needs storage too: refused with E_INTERNAL, the others are not disturbed.
    let mut cc = Client::connect(im, Kind::Lines).await;
    cc.send_json(&json!({"msg_type": 4, "to_user_id": "KEEP_ALIVE", "from_user_id": c.uid().to_string(), "access_token": c.token}))
        .await
        .unwrap();
    let v = cc.next_json().await.unwrap();
    assert!(is_error(&v, "E_INTERNAL"), "{v}");
    assert!(cc.next_json().await.is_none(), "closed");

    // Storage comes back: no restart, the same connections, resends are stored gapless.
    storage.fail_all(false);
    assert_eq!(http(api, "GET", "/healthz", None).await.0, 200);
    for (id, to, ct, seq) in [
        ("m2", b.uid(), 0, 2),
        ("m3", b.uid(), 0, 3),
        ("g1", group, 1, 1),
    ] {
        ca.send_json(&chat(id, a.uid(), to, ct)).await.unwrap();
        let v = ca.next_json().await.unwrap();
        assert_eq!(num(&v, "msg_type"), 0, "{id}: {v}");
        assert_eq!((field(&v, "id"), num(&v, "conv_seq")), (id.to_owned(), seq));
        assert_eq!(
            field(&cb.next_json().await.unwrap(), "id"),
            id,
            "delivered now"
        );
    }
    let mut cc = Client::login(im, Kind::Lines, &c).await;
    let replay = cc.sync(c.uid(), "hb-c").await;
    assert_eq!(replay.len(), 1);
    assert_eq!(field(&replay[0], "id"), "g1");
    let items = history(api, &a.token, 0, b.uid()).await;
    let seqs: Vec<u64> = items.iter().map(|v| num(v, "conv_seq")).collect();
    let ids: Vec<String> = items.iter().map(|v| field(v, "id")).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(ids, ["m1", "m2", "m3"]);
}
