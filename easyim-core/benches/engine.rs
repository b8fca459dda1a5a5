//! In-process throughput of the engine on `MemoryStorage`: no sockets, each client is an `mpsc`
//! channel of decoded frames in and the connection's `Outbox` out (each frame out is encoded
//! to protobuf, as a transport would).
//!
//! Run with:
//!
//! ```text
//! cargo bench -p easyim-core --bench engine
//! ```
//!
//! - 1:1: `PAIRS` senders, each keeping up to `WINDOW` messages in flight (sent, not yet acked),
//!   each to its own recipient; counts acks and deliveries per second.
//! - group: one group of `GROUP_SIZE` members, `GROUP_SENDERS` of whom send with the same
//!   window; counts deliveries (one message to one member's connection) per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_core::{
    random_secret, Engine, EngineConfig, Grant, JwtAuth, MemoryStorage, Outbox, Storage, User,
    UserId,
};
use easyim_proto::{ChatType, CodecError, Format, Msg, MsgStatus, MsgType, KEEP_ALIVE};
use tokio::sync::mpsc;

const PAIRS: usize = 50;
const PER_SENDER: usize = 10_000;
const WINDOW: usize = 32;
const GROUP_SIZE: usize = 100;
const GROUP_SENDERS: usize = 4;
const PER_GROUP_SENDER: usize = 5_000;

type Frames = mpsc::Sender<Result<Msg, CodecError>>;

struct Bench {
    engine: Engine,
    storage: Arc<dyn Storage>,
}

impl Bench {
    fn new() -> Self {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let auth = Arc::new(JwtAuth::new(storage.clone(), "bench", 3600, 3600));
        let config = EngineConfig {
            // The senders do not wait for the readers (acks come from storage), so a reader that
            // falls behind for a moment would be dropped as a slow consumer with the default;
            // this measures throughput, not back-pressure.
            send_queue: 1 << 16,
            ..EngineConfig::default()
        };
        Bench {
            engine: Engine::new(storage.clone(), auth, config),
            storage,
        }
    }

    async fn user(&self) -> UserId {
        let id = self.engine.next_id();
        self.storage
            .create_user(User {
                id,
                account: format!("u{id}"),
                nickname: String::new(),
                avatar: String::new(),
                password_hash: String::new(),
                secret: random_secret(),
            })
            .await
            .unwrap();
        id
    }

    /// A logged-in connection of `user`.
    async fn login(&self, user: UserId) -> (Frames, Outbox) {
        let (conn, mut out) = self.engine.open();
        let (tx, mut rx) = mpsc::channel(256);
        tokio::spawn(conn.run(futures::stream::poll_fn(move |cx| rx.poll_recv(cx))));
        let token = self
            .engine
            .auth()
            .issue(user, Grant::Access)
            .await
            .unwrap()
            .token;
        tx.send(Ok(Msg {
            from_user_id: user.to_string(),
            to_user_id: KEEP_ALIVE.into(),
            msg_type: MsgType::Event as i32,
            access_token: token,
            ..Msg::default()
        }))
        .await
        .unwrap();
        let ok = out.recv().await.unwrap();
        assert_eq!(ok.msg().content, "SUCCESS");
        (tx, out)
    }
}

fn chat(from: UserId, to: u64, chat_type: ChatType, seq: u32) -> Msg {
    Msg {
        id: format!("{from}-{seq}"),
        seq,
        from_user_id: from.to_string(),
        to_user_id: to.to_string(),
        chat_type: chat_type as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        content: "a benchmark message of a few dozen bytes".into(),
        ..Msg::default()
    }
}

/// Sends `n` messages keeping up to `WINDOW` unacked, reading the outbox for acks (and counting
/// the deliveries that come in between). Returns (acks, deliveries).
async fn send_windowed(
    from: UserId,
    to: u64,
    chat_type: ChatType,
    n: usize,
    tx: Frames,
    mut out: Outbox,
    deliveries_expected: usize,
) -> (usize, usize) {
    let (mut sent, mut acked, mut delivered) = (0, 0, 0);
    while acked < n || delivered < deliveries_expected {
        while sent < n && sent - acked < WINDOW {
            sent += 1;
            tx.send(Ok(chat(from, to, chat_type, sent as u32)))
                .await
                .unwrap();
        }
        let f = out.recv().await.expect("sender connection closed");
        let _ = f.payload(Format::Protobuf);
        if f.msg().from_user_id == from.to_string() && f.msg().seq != 0 {
            acked += 1;
        } else if f.msg().msg_type == MsgType::Notify as i32 {
            panic!("error: {:?}", f.msg());
        } else {
            delivered += 1;
        }
    }
    (acked, delivered)
}

/// Reads `n` deliveries.
async fn receive(mut out: Outbox, n: usize) -> usize {
    for _ in 0..n {
        let f = out.recv().await.expect("recipient connection closed");
        let _ = f.payload(Format::Protobuf);
    }
    n
}

async fn one_to_one() {
    let b = Bench::new();
    let mut tasks = Vec::new();
    let mut readers = Vec::new();
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let (s, r) = (b.user().await, b.user().await);
        let sc = b.login(s).await;
        // Keep the recipients' input open: closing it would end their sessions.
        let (rtx, rout) = b.login(r).await;
        readers.push(rtx);
        pairs.push((s, r, sc, rout));
    }
    let t0 = Instant::now();
    for (s, r, (stx, sout), rout) in pairs {
        tasks.push(tokio::spawn(send_windowed(
            s,
            r,
            ChatType::Single,
            PER_SENDER,
            stx,
            sout,
            0,
        )));
        tasks.push(tokio::spawn(
            async move { (0, receive(rout, PER_SENDER).await) },
        ));
    }
    let (mut acks, mut deliveries) = (0, 0);
    for t in tasks {
        let (a, d) = t.await.unwrap();
        acks += a;
        deliveries += d;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "1:1    {PAIRS} pairs, window {WINDOW}, {PER_SENDER} msgs each: {acks} acked, {deliveries} delivered in {secs:.2} s = {:.0} msgs/s acked, {:.0} deliveries/s",
        acks as f64 / secs,
        deliveries as f64 / secs
    );
    report(&b.engine);
}

async fn group() {
    let b = Bench::new();
    let mut members = Vec::new();
    for _ in 0..GROUP_SIZE {
        members.push(b.user().await);
    }
    let g = b.engine.next_id();
    b.storage
        .create_group(g, "bench", members[0], &members)
        .await
        .unwrap();
    let mut conns = Vec::new();
    for &m in &members {
        conns.push((m, b.login(m).await));
    }
    let total = GROUP_SENDERS * PER_GROUP_SENDER;
    let mut tasks = Vec::new();
    let mut keep = Vec::new();
    let t0 = Instant::now();
    for (i, (m, (tx, out))) in conns.into_iter().enumerate() {
        if i < GROUP_SENDERS {
            let others = total - PER_GROUP_SENDER;
            tasks.push(tokio::spawn(send_windowed(
                m,
                g,
                ChatType::Group,
                PER_GROUP_SENDER,
                tx,
                out,
                others,
            )));
        } else {
            keep.push(tx); // as above: the input stays open
            tasks.push(tokio::spawn(async move { (0, receive(out, total).await) }));
        }
    }
    let (mut acks, mut deliveries) = (0, 0);
    for t in tasks {
        let (a, d) = t.await.unwrap();
        acks += a;
        deliveries += d;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "group  {GROUP_SIZE} members, {GROUP_SENDERS} senders x {PER_GROUP_SENDER} msgs, window {WINDOW}: {acks} acked, {deliveries} delivered in {secs:.2} s = {:.0} msgs/s acked, {:.0} deliveries/s",
        acks as f64 / secs,
        deliveries as f64 / secs
    );
    report(&b.engine);
}

fn report(engine: &Engine) {
    let mut m = String::new();
    engine.metrics().render(&mut m);
    let slow = m
        .lines()
        .find(|l| l.starts_with("easyim_slow_consumers_total "))
        .unwrap_or("easyim_slow_consumers_total ?");
    println!("       {slow}");
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    println!("engine benchmark: MemoryStorage, {threads} worker threads");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(300), async {
            one_to_one().await;
            group().await;
        })
        .await
        .expect("benchmark timed out");
    });
}
