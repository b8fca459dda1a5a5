//! Two engines in one process, over one shared storage, each with its own NatsBus to a real
//! nats-server (`EASYIM_TEST_NATS`, e.g. `nats://127.0.0.1:54222`): what one engine stores
//! reaches the connections the other holds, and a revoke on one closes connections on the
//! other. Each test uses its own subject prefix, so tests (and other test binaries) may share
//! the server.

use std::sync::Arc;
use std::time::Duration;

use easyim_bus_nats::{BusStats, NatsBus, NatsOptions};
use easyim_core::{
    random_secret, AccountStore, Engine, EngineConfig, Grant, GroupStore, JwtAuth, MemoryStorage,
    Outbox, Storage, User, UserId,
};
use easyim_proto::{CodecError, Msg, KEEP_ALIVE};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// The NATS URL, or `None` when the test must be skipped (only outside CI).
fn nats_url() -> Option<String> {
    match std::env::var("EASYIM_TEST_NATS") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "\n!!!!!!!!!! EASYIM_TEST_NATS is not set: the NATS bus tests did NOT run !!!!!!!!!!\n\
                 !!!!!!!!!! run a nats-server and set EASYIM_TEST_NATS=nats://127.0.0.1:4222 !!!!!!!!!!\n"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set: EASYIM_TEST_NATS must be set too, the cluster tests may not be skipped"
            );
            None
        }
    }
}

/// Two nodes sharing one storage and one bus prefix.
struct Pair {
    storage: Arc<MemoryStorage>,
    prefix: String,
    a: Node,
    b: Node,
}

struct Node {
    engine: Engine,
    stats: Arc<BusStats>,
}

async fn node(url: &str, prefix: &str, id: u16, storage: Arc<MemoryStorage>) -> Node {
    let mut opts = NatsOptions::new(url, id);
    opts.prefix = prefix.to_owned();
    let (bus, subscriber) = NatsBus::connect(opts).await.expect("connect to NATS");
    let stats = bus.stats();
    let dyn_storage: Arc<dyn Storage> = storage;
    let auth = Arc::new(JwtAuth::new(
        dyn_storage.clone(),
        "one-secret-for-the-cluster",
        3600,
        86400,
    ));
    let engine = Engine::with_bus(
        dyn_storage,
        auth,
        EngineConfig {
            node_id: id,
            ..EngineConfig::default()
        },
        Arc::new(bus),
    );
    tokio::spawn(subscriber.run(engine.clone(), std::future::pending()));
    Node { engine, stats }
}

impl Pair {
    async fn new() -> Option<Pair> {
        let url = nats_url()?;
        let prefix = format!("test.{:016x}.v1", rand_u64());
        let storage = Arc::new(MemoryStorage::default());
        let a = node(&url, &prefix, 1, storage.clone()).await;
        let b = node(&url, &prefix, 2, storage.clone()).await;
        let pair = Pair {
            storage,
            prefix,
            a,
            b,
        };
        pair.wait_until_subscribed().await;
        Some(pair)
    }

    /// A subscription is live at the server only some time after `connect` returns: notify a
    /// probe user across until both directions carry.
    async fn wait_until_subscribed(&self) {
        let probe = self.user().await;
        for (from, to) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let mut c = login(&to.engine, probe).await;
            let t0 = std::time::Instant::now();
            loop {
                from.engine.notify(probe, notice(probe, "probe"));
                if let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_millis(100), c.out.recv()).await
                {
                    break;
                }
                assert!(t0.elapsed() < WAIT, "the bus never carried a probe");
            }
            c.close();
            // Later probes may still be on their way to a connection that is gone: harmless.
        }
    }

    async fn user(&self) -> UserId {
        let id = self.a.engine.next_id();
        self.storage
            .create_user(User {
                id,
                account: format!("user{id}"),
                nickname: format!("User {id}"),
                avatar: String::new(),
                password_hash: String::new(),
                secret: random_secret(),
            })
            .await
            .unwrap();
        id
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

fn notice(user: UserId, content: &str) -> Msg {
    easyim_proto::frames::notice(&user.to_string(), content.to_owned())
}

/// One in-process connection.
struct Client {
    user: UserId,
    tx: Option<mpsc::Sender<Result<Msg, CodecError>>>,
    out: Outbox,
}

impl Client {
    fn send(&self, m: Msg) {
        self.tx.as_ref().unwrap().try_send(Ok(m)).unwrap();
    }

    fn close(&mut self) {
        self.tx = None;
    }

    async fn recv(&mut self) -> Msg {
        match tokio::time::timeout(WAIT, self.out.recv()).await {
            Ok(Some(f)) => f.msg().clone(),
            Ok(None) => panic!("user {}: closed where a frame was expected", self.user),
            Err(_) => panic!("user {}: no frame within {WAIT:?}", self.user),
        }
    }

    /// The next frame that is not a probe notice of the setup.
    async fn recv_real(&mut self) -> Msg {
        loop {
            let m = self.recv().await;
            if m.content != "probe" {
                return m;
            }
        }
    }

    async fn expect_closed(&mut self) {
        match tokio::time::timeout(WAIT, self.out.recv()).await {
            Ok(None) => {}
            Ok(Some(f)) => panic!(
                "user {}: frame {:?} where the end was expected",
                self.user,
                f.msg()
            ),
            Err(_) => panic!("user {}: still open after {WAIT:?}", self.user),
        }
    }

    async fn expect_nothing(&mut self) {
        loop {
            match tokio::time::timeout(Duration::from_millis(300), self.out.recv()).await {
                Err(_) => return,
                Ok(Some(f)) if f.msg().content == "probe" => continue,
                Ok(Some(f)) => panic!("user {}: unexpected frame {:?}", self.user, f.msg()),
                Ok(None) => panic!("user {}: closed unexpectedly", self.user),
            }
        }
    }

    fn chat(&self, to: u64, group: bool, id: &str) -> Msg {
        Msg {
            id: id.to_owned(),
            seq: 1,
            from_user_id: self.user.to_string(),
            to_user_id: to.to_string(),
            chat_type: i32::from(group),
            msg_type: 0,
            status: 1,
            content: format!("content of {id}"),
            ..Msg::default()
        }
    }
}

async fn login(engine: &Engine, user: UserId) -> Client {
    let token = engine
        .auth()
        .issue(user, Grant::Access)
        .await
        .unwrap()
        .token;
    let (conn, out) = engine.open();
    let (tx, mut rx) = mpsc::channel::<Result<Msg, CodecError>>(64);
    tokio::spawn(conn.run(futures::stream::poll_fn(move |cx| rx.poll_recv(cx))));
    let mut c = Client {
        user,
        tx: Some(tx),
        out,
    };
    c.send(Msg {
        msg_type: 4,
        from_user_id: user.to_string(),
        to_user_id: KEEP_ALIVE.to_owned(),
        access_token: token,
        ..Msg::default()
    });
    let m = c.recv().await;
    assert_eq!(m.content, "SUCCESS", "login of {user}: {m:?}");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_every_device_on_the_other_node() {
    let Some(p) = Pair::new().await else { return };
    let (alice, bob) = (p.user().await, p.user().await);
    let mut alice_a = login(&p.a.engine, alice).await;
    let mut alice_b = login(&p.b.engine, alice).await;
    let mut bob_b1 = login(&p.b.engine, bob).await;
    let mut bob_b2 = login(&p.b.engine, bob).await;

    alice_a.send(alice_a.chat(bob, false, "m-1"));
    let ack = alice_a.recv_real().await;
    assert_eq!(
        (ack.id.as_str(), ack.status, ack.conv_seq),
        ("m-1", 1, 1),
        "{ack:?}"
    );
    for c in [&mut bob_b1, &mut bob_b2, &mut alice_b] {
        let m = c.recv_real().await;
        assert_eq!(
            (m.id.as_str(), m.conv_seq),
            ("m-1", 1),
            "user {}: {m:?}",
            c.user
        );
        assert_eq!(m.from_user_id, alice.to_string());
    }
    // The sender's own node does not get its event back.
    alice_a.expect_nothing().await;

    // A receipt from node B reaches the sender on node A.
    bob_b1.send(Msg {
        id: "m-1".into(),
        status: 2,
        from_user_id: bob.to_string(),
        to_user_id: alice.to_string(),
        ..Msg::default()
    });
    let r = alice_a.recv_real().await;
    assert_eq!((r.id.as_str(), r.status), ("m-1", 2), "{r:?}");
    assert_eq!(r.from_user_id, bob.to_string());
    assert!(p.b.stats.received() >= 1 && p.a.stats.received() >= 1);
    assert_eq!(p.a.stats.dropped() + p.b.stats.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_fan_out_spans_nodes_in_order() {
    let Some(p) = Pair::new().await else { return };
    let (alice, bob, carol) = (p.user().await, p.user().await, p.user().await);
    let group = p.a.engine.next_id();
    p.storage
        .create_group(group, "g", alice, &[bob, carol])
        .await
        .unwrap();
    let mut alice_a = login(&p.a.engine, alice).await;
    let mut carol_a = login(&p.a.engine, carol).await;
    let mut bob_b = login(&p.b.engine, bob).await;
    let mut carol_b = login(&p.b.engine, carol).await;

    for i in 1..=20 {
        alice_a.send(alice_a.chat(group, true, &format!("g-{i}")));
    }
    for i in 1..=20u64 {
        let ack = alice_a.recv_real().await;
        assert_eq!(ack.conv_seq, i, "{ack:?}");
    }
    for c in [&mut carol_a, &mut bob_b, &mut carol_b] {
        for i in 1..=20u64 {
            let m = c.recv_real().await;
            assert_eq!(m.id, format!("g-{i}"), "user {}: {m:?}", c.user);
            assert_eq!(m.conv_seq, i);
        }
        c.expect_nothing().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_closes_connections_on_the_other_node() {
    let Some(p) = Pair::new().await else { return };
    let (alice, bob) = (p.user().await, p.user().await);
    let mut alice_a = login(&p.a.engine, alice).await;
    let mut alice_b = login(&p.b.engine, alice).await;
    let mut bob_b = login(&p.b.engine, bob).await;

    p.a.engine.revoke(alice).await.unwrap();
    for c in [&mut alice_a, &mut alice_b] {
        let m = c.recv_real().await;
        assert!(
            m.content.starts_with("E_AUTH_REVOKED"),
            "user {}: {m:?}",
            c.user
        );
        c.expect_closed().await;
    }
    // Somebody else's connection stays.
    bob_b.expect_nothing().await;
    bob_b.send(Msg {
        msg_type: 4,
        id: "hb".into(),
        from_user_id: bob.to_string(),
        to_user_id: KEEP_ALIVE.to_owned(),
        ..Msg::default()
    });
    assert_eq!(bob_b.recv_real().await.content, "SUCCESS");
}

/// Nodes of earlier versions published one JSON event per NATS message on `deliver` and
/// `revoke`: a node of this version still applies them, so a cluster can be upgraded a node at
/// a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_nodes_single_json_events_are_applied() {
    let Some(p) = Pair::new().await else { return };
    let url = nats_url().unwrap();
    let bob = p.user().await;
    let mut bob_b = login(&p.b.engine, bob).await;
    let before = p.b.stats.received();
    let old = async_nats::connect(url.as_str()).await.unwrap();
    let prefix = p.prefix.clone();
    let deliver = serde_json::json!({
        "node": 9,
        "from": 12345,
        "users": [bob],
        "msg": {"msg_type": 5, "to_user_id": bob.to_string(), "content": "from an old node"},
    });
    old.publish(format!("{prefix}.deliver"), deliver.to_string().into())
        .await
        .unwrap();
    old.flush().await.unwrap();
    let m = bob_b.recv_real().await;
    assert_eq!(m.content, "from an old node", "{m:?}");
    old.publish(
        format!("{prefix}.revoke"),
        format!(r#"{{"node":9,"from":12345,"user":{bob}}}"#).into(),
    )
    .await
    .unwrap();
    old.flush().await.unwrap();
    assert!(bob_b
        .recv_real()
        .await
        .content
        .starts_with("E_AUTH_REVOKED"));
    bob_b.expect_closed().await;
    assert!(p.b.stats.received() >= before + 2);
}
