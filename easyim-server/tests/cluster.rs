//! Two `easyim` processes sharing one database and one NATS (`EASYIM_TEST_NATS`): users on
//! different nodes talk 1:1 and in groups, a logout on one node closes connections on the
//! other, and a node killed with SIGKILL loses no acked message. Each test runs on every
//! database it is given: PostgreSQL (`EASYIM_TEST_PG`, a fresh schema per test, `DB_SCHEMA`)
//! and MySQL or MariaDB (`EASYIM_TEST_MYSQL`, a fresh database per test). Without NATS and a
//! database the tests print a loud notice and pass, unless `CI` is set: then they fail (CI
//! sets all three).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

mod support;
use support::*;

/// Where the shared services are.
struct Shared {
    /// The database's `DB_*` settings.
    db: Vec<(&'static str, String)>,
    nats: String,
}

/// The shared services, once per database set up in the environment; none (after a loud
/// notice) when the test may be skipped.
async fn shared(test: &str) -> Vec<Shared> {
    let var = |k: &str| std::env::var(k).unwrap_or_default().trim().to_owned();
    let (pg, mysql, nats) = (
        var("EASYIM_TEST_PG"),
        var("EASYIM_TEST_MYSQL"),
        var("EASYIM_TEST_NATS"),
    );
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci || !(pg.is_empty() || mysql.is_empty() || nats.is_empty()),
        "{test}: EASYIM_TEST_PG, EASYIM_TEST_MYSQL and EASYIM_TEST_NATS must be set when CI \
         is: the cluster tests may not be skipped (.ci/run starts PostgreSQL, MariaDB and \
         nats-server)"
    );
    if nats.is_empty() || (pg.is_empty() && mysql.is_empty()) {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! {test}: SKIPPED, EASYIM_TEST_NATS or both of EASYIM_TEST_PG and\n\
             !!! EASYIM_TEST_MYSQL are not set. Set EASYIM_TEST_NATS=nats://127.0.0.1:4222\n\
             !!! and EASYIM_TEST_PG=postgres://user:password@host:port/dbname and/or\n\
             !!! EASYIM_TEST_MYSQL=mysql://user:password@host:port/dbname to run them.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return Vec::new();
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let fresh = format!("easyim_c_{test}_{}_{nanos}", std::process::id());
    let mut out = Vec::new();
    if !pg.is_empty() {
        let mut db = parse_pg_url(&pg);
        db.push(("DB_SCHEMA", fresh.clone()));
        out.push(Shared {
            db,
            nats: nats.clone(),
        });
    } else {
        eprintln!("!!! {test}: not on PostgreSQL, EASYIM_TEST_PG is not set");
    }
    if !mysql.is_empty() {
        out.push(Shared {
            db: mysql_database(&mysql, &fresh).await,
            nats: nats.clone(),
        });
    } else {
        eprintln!("!!! {test}: not on MySQL, EASYIM_TEST_MYSQL is not set");
    }
    out
}

/// `postgres://user:password@host:port/dbname` as the server's `DB_*` settings.
fn parse_pg_url(url: &str) -> Vec<(&'static str, String)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .expect("EASYIM_TEST_PG is a postgres:// URL");
    let rest = rest.split('?').next().unwrap();
    let (auth, location) = rest.rsplit_once('@').unwrap_or(("", rest));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (hostport, dbname) = location.split_once('/').unwrap_or((location, "postgres"));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    vec![
        ("DB_DRIVER", "postgres".to_owned()),
        ("DB_HOST", host.to_owned()),
        ("DB_PORT", port.to_owned()),
        ("DB_NAME", dbname.to_owned()),
        ("DB_USERNAME", user.to_owned()),
        ("DB_PASSWORD", password.to_owned()),
    ]
}

/// A new, empty database `name` on the server of `url` (`mysql://user:password@host:port/db`),
/// as the server's `DB_*` settings.
async fn mysql_database(url: &str, name: &str) -> Vec<(&'static str, String)> {
    let opts = mysql_async::Opts::from_url(url).expect("EASYIM_TEST_MYSQL is a mysql:// URL");
    let mut admin = mysql_async::Conn::new(opts.clone())
        .await
        .expect("connect to EASYIM_TEST_MYSQL");
    // The name is ours: [a-z0-9_] only.
    admin
        .query_drop(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .expect("create the test database");
    let _ = admin.disconnect().await;
    vec![
        ("DB_DRIVER", "mysql".to_owned()),
        ("DB_HOST", opts.ip_or_hostname().to_owned()),
        ("DB_PORT", opts.tcp_port().to_string()),
        ("DB_NAME", name.to_owned()),
        ("DB_USERNAME", opts.user().unwrap_or_default().to_owned()),
        ("DB_PASSWORD", opts.pass().unwrap_or_default().to_owned()),
    ]
}

/// One node of the test cluster, in its own folder.
struct Node {
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl Node {
    fn im(&self) -> SocketAddr {
        self.proc.im
    }
    fn api(&self) -> SocketAddr {
        self.proc.api
    }
}

async fn node(shared: &Shared, node_id: u16) -> Node {
    let id = node_id.to_string();
    let mut env: Vec<(&str, &str)> = shared.db.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("NATS_URL", &shared.nats));
    env.push(("DB_NODE_ID", &id));
    let (dir, proc) = spawn_temp(&env).await;
    Node { proc, _dir: dir }
}

/// Reads frames until one satisfies `want`; panics after [`WAIT`] or at the end of the stream,
/// saying what it waited for and what it saw meanwhile.
async fn until(c: &mut Client, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let mut seen = Vec::new();
    loop {
        let v = match tokio::time::timeout(WAIT, c.read_json()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("connection closed while waiting for {what}; saw {seen:?}"),
            Err(_) => panic!("nothing in {WAIT:?} while waiting for {what}; saw {seen:?}"),
        };
        if want(&v) {
            return v;
        }
        seen.push(v);
    }
}

fn is_delivery(v: &Value, id: &str) -> bool {
    num(v, "msg_type") < 4 && field(v, "id") == id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_one_and_group_across_nodes() {
    for shared in shared("chat").await {
        chat_across_nodes(&shared).await;
    }
}

async fn chat_across_nodes(shared: &Shared) {
    // Shown with a failure: which database it was on.
    eprintln!("chat across nodes on {:?}", shared.db.first());
    let a = node(shared, 1).await;
    let b = node(shared, 2).await;
    let alice = register(a.api(), "alice").await;
    let bob = register(b.api(), "bob").await;
    let carol = register(a.api(), "carol").await;

    let mut alice_a = Client::login(a.im(), Kind::Lines, &alice).await;
    let mut alice_b = Client::login(b.im(), Kind::Lines, &alice).await;
    let mut bob_b1 = Client::login(b.im(), Kind::Lines, &bob).await;
    let mut bob_b2 = Client::login(b.im(), Kind::Lines, &bob).await;

    // 1:1 from node A to both of bob's devices on node B, and alice's other device on B.
    alice_a
        .send_json(&chat("d-1", alice.uid(), bob.uid(), 0))
        .await
        .unwrap();
    let ack = until(&mut alice_a, "the ack", |v| field(v, "id") == "d-1").await;
    assert_eq!(num(&ack, "conv_seq"), 1, "{ack}");
    for c in [&mut bob_b1, &mut bob_b2, &mut alice_b] {
        let v = until(c, "d-1", |v| is_delivery(v, "d-1")).await;
        assert_eq!(field(&v, "from_user_id"), alice.uid().to_string());
        assert_eq!(num(&v, "conv_seq"), 1);
    }
    // The receipt from node B reaches alice on node A.
    bob_b1
        .send_json(
            &json!({"id": "d-1", "status": 2, "from_user_id": bob.uid().to_string(),
                      "to_user_id": alice.uid().to_string(), "chat_type": 0}),
        )
        .await
        .unwrap();
    let r = until(&mut alice_a, "the receipt", |v| num(v, "status") == 2).await;
    assert_eq!(field(&r, "from_user_id"), bob.uid().to_string(), "{r}");

    // A group: members on both nodes, several senders on both nodes; every member connection
    // gets every message, each conversation in conv_seq order.
    let group: u64 = create_group(a.api(), &alice, &[&bob, &carol])
        .await
        .parse()
        .unwrap();
    let mut carol_a = Client::login(a.im(), Kind::Lines, &carol).await;
    let mut carol_b = Client::login(b.im(), Kind::Lines, &carol).await;
    // A first message, so that both nodes know the conversation: the very first messages of a
    // conversation stored on two nodes at once are the one case where a connection can get a
    // later one before an earlier one, and then misses the earlier live (CLUSTER.md).
    alice_a
        .send_json(&chat("g-first", alice.uid(), group, 1))
        .await
        .unwrap();
    for c in [
        &mut carol_a,
        &mut carol_b,
        &mut bob_b1,
        &mut bob_b2,
        &mut alice_b,
    ] {
        until(c, "g-first", |v| is_delivery(v, "g-first")).await;
    }
    const N: usize = 10;
    for i in 0..N {
        alice_a
            .send_json(&chat(&format!("ga-{i}"), alice.uid(), group, 1))
            .await
            .unwrap();
        bob_b2
            .send_json(&chat(&format!("gb-{i}"), bob.uid(), group, 1))
            .await
            .unwrap();
    }
    let want: HashSet<String> = (0..N)
        .flat_map(|i| [format!("ga-{i}"), format!("gb-{i}")])
        .collect();
    // Every one of them gets all: members, and the senders' other devices (multi-device sync).
    for (c, name) in [
        (&mut carol_a, "carol on A"),
        (&mut carol_b, "carol on B"),
        (&mut bob_b1, "bob's other device on B"),
        (&mut alice_b, "alice's other device on B"),
    ] {
        let mut got = HashSet::new();
        let mut last = 0;
        while got.len() < want.len() {
            let v = until(c, &format!("{name}, which has {got:?}"), |v| {
                num(v, "msg_type") < 4 && num(v, "chat_type") == 1 && num(v, "conv_seq") > 0
            })
            .await;
            let seq = num(&v, "conv_seq");
            assert!(seq > last, "{name}: conv_seq order: {seq} after {last}");
            last = seq;
            assert!(got.insert(field(&v, "id")), "{name}: twice: {v}");
        }
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_node_closes_connections_on_the_other() {
    for shared in shared("logout").await {
        logout_across_nodes(&shared).await;
    }
}

async fn logout_across_nodes(shared: &Shared) {
    let a = node(shared, 1).await;
    let b = node(shared, 2).await;
    let alice = register(a.api(), "alice").await;
    let bob = register(a.api(), "bob").await;
    let mut alice_b1 = Client::login(b.im(), Kind::Lines, &alice).await;
    let mut alice_b2 = Client::login(b.im(), Kind::Lines, &alice).await;
    let mut bob_b = Client::login(b.im(), Kind::Lines, &bob).await;

    let (status, v) = http(
        a.api(),
        "POST",
        "/api/user/logout",
        Some(&json!({"access_token": alice.token})),
    )
    .await;
    assert_eq!(status, 200, "logout: {v}");
    for c in [&mut alice_b1, &mut alice_b2] {
        let v = c.next_json().await.expect("E_AUTH_REVOKED before the end");
        assert!(field(&v, "content").starts_with("E_AUTH_REVOKED"), "{v}");
        assert!(c.next_json().await.is_none(), "closed after E_AUTH_REVOKED");
    }
    // Somebody else stays.
    assert!(bob_b.sync(bob.uid(), "hb").await.is_empty());
}

/// What the kill test knows: every id sent, and the acked ones.
type Acks = Arc<Mutex<HashMap<String, u64>>>;

/// Sends to `to` flat out from `me` over `c` until the connection dies; records every ack.
async fn flood(mut c: Client, me: u64, targets: Vec<(u64, u8)>, acks: Acks) {
    let mut frames = c.take_frames();
    let reader = tokio::spawn(async move {
        while let Some(v) = frames.read_json().await {
            if field(&v, "from_user_id") == me.to_string() && num(&v, "conv_seq") > 0 {
                acks.lock()
                    .unwrap()
                    .insert(field(&v, "id"), num(&v, "conv_seq"));
            }
        }
    });
    for n in 0..100_000 {
        let (to, ct) = targets[n % targets.len()];
        if c.send_json(&chat(&format!("k-{me}-{n}"), me, to, ct))
            .await
            .is_err()
        {
            break;
        }
        if n % 16 == 15 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the connection ends when the node dies")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_no_acked_message() {
    for shared in shared("kill").await {
        killed_node(&shared).await;
    }
}

async fn killed_node(shared: &Shared) {
    let a = node(shared, 1).await;
    let b = node(shared, 2).await;
    let alice = register(a.api(), "alice").await;
    let bob = register(a.api(), "bob").await;
    let carol = register(a.api(), "carol").await;
    let group: u64 = create_group(a.api(), &alice, &[&bob, &carol])
        .await
        .parse()
        .unwrap();

    // alice writes on node A (to be killed) to bob and to the group; carol, a member, is on A
    // too; bob is on node B and reads live.
    let mut bob_b = Client::login(b.im(), Kind::Lines, &bob).await;
    let carol_a = Client::login(a.im(), Kind::Lines, &carol).await;
    let alice_a = Client::login(a.im(), Kind::Lines, &alice).await;
    let acks: Acks = Arc::default();
    let sender = tokio::spawn(flood(
        alice_a,
        alice.uid(),
        vec![(bob.uid(), 0), (group, 1)],
        acks.clone(),
    ));
    // Let some messages through, then SIGKILL node A in the middle of the stream.
    let t0 = std::time::Instant::now();
    while acks.lock().unwrap().len() < 200 {
        assert!(t0.elapsed() < WAIT, "no acks from node A");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.proc.kill();
    drop(carol_a);
    sender.await.unwrap();
    let acked = acks.lock().unwrap().clone();
    eprintln!("node A killed after {} acked messages", acked.len());
    assert!(!acked.is_empty());

    // bob, still on node B, and a fresh login of his on B: the fresh login replays everything
    // bob has not receipted, so every acked message must be in it.
    let mut bob_b2 = Client::login(b.im(), Kind::Lines, &bob).await;
    let replay: HashSet<String> = bob_b2
        .sync(bob.uid(), "hb-bob")
        .await
        .iter()
        .filter(|v| num(v, "msg_type") < 4)
        .map(|v| field(v, "id"))
        .collect();
    let missing: Vec<_> = acked
        .keys()
        .filter(|id| !replay.contains(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "bob: acked but not pending: {missing:?}"
    );
    // Live, bob got a subset of them, each at most once.
    let live = bob_b.sync(bob.uid(), "hb-live").await;
    let mut seen = HashSet::new();
    for v in live.iter().filter(|v| num(v, "msg_type") < 4) {
        assert!(seen.insert(field(v, "id")), "delivered twice live: {v}");
    }

    // carol was on the killed node: she reconnects to node B and gets every acked group message.
    let mut carol_b = Client::login(b.im(), Kind::Lines, &carol).await;
    let replay: HashSet<String> = carol_b
        .sync(carol.uid(), "hb-carol")
        .await
        .iter()
        .map(|v| field(v, "id"))
        .collect();
    let group_acked: Vec<&String> = acked
        .keys()
        .filter(|id| {
            let n: usize = id.rsplit('-').next().unwrap().parse().unwrap();
            n % 2 == 1
        })
        .collect();
    let missing: Vec<_> = group_acked
        .iter()
        .filter(|id| !replay.contains(**id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "carol: acked but not pending: {missing:?}"
    );
    // And alice, reconnecting to node B, finds her acked messages in the history.
    let history = history(b.api(), &alice.token, 1, group).await;
    let stored: HashSet<String> = history.iter().map(|v| field(v, "id")).collect();
    assert!(group_acked.iter().all(|id| stored.contains(*id)));
}

/// The next PRESENCE frame `c` gets, as (from, content).
async fn next_presence(c: &mut Client) -> (String, String) {
    let v = until(c, "a PRESENCE frame", |v| num(v, "msg_type") == 9).await;
    (field(&v, "from_user_id"), field(&v, "content"))
}

/// Befriends `a` and `b` over `api`.
async fn befriend(api: SocketAddr, a: &User, b: &User) {
    let add = json!({"access_token": a.token, "to_user_id": b.id});
    let (s, v) = http(api, "POST", "/api/user/friend/add", Some(&add)).await;
    assert_eq!(s, 200, "{v}");
    let accept = json!({"access_token": b.token, "id": v["data"]["id"]});
    let (s, v) = http(api, "POST", "/api/user/friend/accept", Some(&accept)).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_across_nodes_and_a_dead_node() {
    for shared in shared("presence").await {
        presence_across_nodes(&shared).await;
    }
}

async fn presence_across_nodes(shared: &Shared) {
    let a = node(shared, 1).await;
    let b = node(shared, 2).await;
    let alice = register(a.api(), "alice").await;
    let bob = register(a.api(), "bob").await;
    let carol = register(a.api(), "carol").await;
    befriend(a.api(), &alice, &bob).await;
    befriend(a.api(), &carol, &bob).await;

    // bob on B; once node A has heard of him, alice's first device on A is told to him on B.
    let mut bob_b = Client::login(b.im(), Kind::Lines, &bob).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alice_a = Client::login(a.im(), Kind::Lines, &alice).await;
    assert_eq!(
        next_presence(&mut bob_b).await,
        (alice.id.clone(), "online".into())
    );
    let _carol_a = Client::login(a.im(), Kind::Lines, &carol).await;
    assert_eq!(
        next_presence(&mut bob_b).await,
        (carol.id.clone(), "online".into())
    );
    // alice's second device, on B: she is online already; nothing to bob before the fence.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut alice_b = Client::login(b.im(), Kind::Lines, &alice).await;
    alice_b
        .send_json(&chat("fence", alice.uid(), bob.uid(), 0))
        .await
        .unwrap();
    let before = until(&mut bob_b, "the fence", |v| {
        num(v, "msg_type") == 9 || field(v, "id") == "fence"
    })
    .await;
    assert_eq!(field(&before, "id"), "fence", "no second online: {before}");
    // The first device closing on A: alice stays online (B holds her).
    drop(alice_a);
    let path = format!(
        "/api/presence?access_token={}&user_ids={},{}",
        bob.token, alice.id, carol.id
    );
    let (s, v) = http(b.api(), "GET", &path, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["items"][0]["online"], true, "alice on B: {v}");
    assert_eq!(
        v["data"]["items"][1]["online"], true,
        "carol on A, as B knows: {v}"
    );

    // Node A dies: B marks carol (on A only) offline within PRESENCE_EXPIRY and a beat, and
    // tells bob; alice, on B too, stays online.
    let t0 = std::time::Instant::now();
    a.proc.kill();
    assert_eq!(
        next_presence(&mut bob_b).await,
        (carol.id.clone(), "offline".into())
    );
    let took = t0.elapsed();
    assert!(
        took < easyim_core::PRESENCE_EXPIRY + easyim_core::PRESENCE_BEAT * 2,
        "carol marked offline after {took:?}"
    );
    let (s, v) = http(b.api(), "GET", &path, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["items"][0]["online"], true, "{v}");
    assert_eq!(v["data"]["items"][1]["online"], false, "{v}");
    assert!(
        v["data"]["items"][1]["last_seen"].as_i64().unwrap() > 0,
        "{v}"
    );
    let ack = until(&mut alice_b, "the fence's ack", |v| {
        field(v, "id") == "fence"
    })
    .await;
    assert_eq!(num(&ack, "status"), 1, "{ack}");
}
