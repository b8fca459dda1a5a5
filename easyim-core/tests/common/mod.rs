//! An in-memory test client for the engine: frames go in through an `mpsc` channel standing in
//! for the decoded socket, and come out of the connection's `Outbox`.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use easyim_core::testkit::FailingStorage;
use easyim_core::{
    random_secret, AccountStore, Engine, EngineConfig, Grant, GroupId, GroupStore, JwtAuth,
    MemoryStorage, Outbox, Storage, User, UserId,
};
use easyim_proto::{ChatType, CodecError, Msg, MsgStatus, MsgType, KEEP_ALIVE};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The server secret the tests' `JwtAuth` signs with.
pub const SERVER_SECRET: &str = "test-server-secret";

/// How long a client waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(5);

/// A [`MemoryStorage`] whose message writes can be made to fail, for `E_INTERNAL`.
pub type FlakyStorage = FailingStorage<MemoryStorage>;

/// An engine on a [`FlakyStorage`] with a `JwtAuth`, and helpers to make users and clients.
#[derive(Debug, Clone)]
pub struct Harness {
    pub engine: Engine,
    pub storage: Arc<FlakyStorage>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub fn with_config(config: EngineConfig) -> Self {
        let storage = Arc::new(FlakyStorage::new(MemoryStorage::new()));
        let dyn_storage: Arc<dyn Storage> = storage.clone();
        let auth = Arc::new(JwtAuth::new(
            dyn_storage.clone(),
            SERVER_SECRET,
            3600,
            86400,
        ));
        Harness {
            engine: Engine::new(dyn_storage, auth, config),
            storage,
        }
    }

    /// A new user, created directly in storage.
    pub async fn user(&self) -> UserId {
        let id = self.engine.next_id();
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

    /// A group of `owner` and `members`.
    pub async fn group(&self, owner: UserId, members: &[UserId]) -> GroupId {
        let id = self.engine.next_id();
        self.storage
            .create_group(id, "test group", owner, members)
            .await
            .unwrap();
        id
    }

    /// An access token of `user`.
    pub async fn token(&self, user: UserId) -> String {
        self.engine
            .auth()
            .issue(user, Grant::Access)
            .await
            .unwrap()
            .token
    }

    /// A connection that has not logged in yet.
    pub fn connect(&self) -> Client {
        let (conn, out) = self.engine.open();
        let (tx, mut rx) = mpsc::channel::<Result<Msg, CodecError>>(1024);
        let frames = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let task = tokio::spawn(conn.run(frames));
        Client {
            tx: Some(tx),
            out,
            task,
            user: 0,
        }
    }

    /// A connection logged in as `user` (the SUCCESS frame is consumed).
    pub async fn login(&self, user: UserId) -> Client {
        let mut c = self.connect();
        c.user = user;
        let token = self.token(user).await;
        c.send(login_frame(user, &token));
        let m = c.recv().await;
        assert_success(&m, user);
        c
    }
}

/// One test connection: its input frames and its outbox.
#[derive(Debug)]
pub struct Client {
    /// `None` once the client closed its side.
    pub tx: Option<mpsc::Sender<Result<Msg, CodecError>>>,
    pub out: Outbox,
    pub task: JoinHandle<()>,
    pub user: UserId,
}

impl Client {
    /// Queues a decoded frame.
    pub fn send(&self, m: Msg) {
        self.send_raw(Ok(m));
    }

    /// Queues a decoded frame or a decoding error.
    pub fn send_raw(&self, m: Result<Msg, CodecError>) {
        self.tx
            .as_ref()
            .expect("client closed its side")
            .try_send(m)
            .expect("the test's frame queue is full or the session is gone");
    }

    /// Closes the client's side (end of stream).
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// The next frame; panics if none comes within [`WAIT`] or the connection closed.
    pub async fn recv(&mut self) -> Msg {
        match self.try_recv_within(WAIT).await {
            Some(Some(m)) => m,
            Some(None) => panic!(
                "user {}: connection closed, a frame was expected",
                self.user
            ),
            None => panic!("user {}: no frame within {WAIT:?}", self.user),
        }
    }

    /// `None` if nothing happened within `d`; `Some(None)` if the connection closed.
    pub async fn try_recv_within(&mut self, d: Duration) -> Option<Option<Msg>> {
        tokio::time::timeout(d, self.out.recv())
            .await
            .ok()
            .map(|f| f.map(|e| e.msg().clone()))
    }

    /// Asserts that nothing comes within a short while (and the connection stays open).
    pub async fn expect_nothing(&mut self) {
        match self.try_recv_within(Duration::from_millis(200)).await {
            None => {}
            Some(Some(m)) => panic!("user {}: unexpected frame {m:?}", self.user),
            Some(None) => panic!("user {}: connection closed unexpectedly", self.user),
        }
    }

    /// Asserts that the connection closes with no further frame, within [`WAIT`].
    pub async fn expect_closed(&mut self) {
        match self.try_recv_within(WAIT).await {
            Some(None) => {}
            Some(Some(m)) => panic!("user {}: frame {m:?} where the end was expected", self.user),
            None => panic!("user {}: connection still open after {WAIT:?}", self.user),
        }
    }

    /// Expects an error NOTIFY with `code`, answering the frame of `id` and `seq`.
    pub async fn expect_error(&mut self, code: &str, id: &str, seq: u32) -> Msg {
        let m = self.recv().await;
        assert_error(&m, code, self.user, id, seq);
        m
    }

    /// A chat message from this client's user.
    pub fn chat(&self, to: u64, chat_type: ChatType, id: &str, seq: u32, content: &str) -> Msg {
        chat(self.user, to, chat_type, id, seq, content)
    }

    /// A heartbeat from this client's user.
    pub fn heartbeat(&self, id: &str, seq: u32) -> Msg {
        Msg {
            id: id.to_owned(),
            seq,
            from_user_id: self.user.to_string(),
            to_user_id: KEEP_ALIVE.to_owned(),
            msg_type: MsgType::Event as i32,
            ..Msg::default()
        }
    }

    /// A receipt from this client's user for message `id`, to `to` (the sender or the group).
    pub fn receipt(&self, to: u64, chat_type: ChatType, id: &str, status: MsgStatus) -> Msg {
        Msg {
            id: id.to_owned(),
            status: status as i32,
            from_user_id: self.user.to_string(),
            to_user_id: to.to_string(),
            chat_type: chat_type as i32,
            ..Msg::default()
        }
    }

    /// Sends a chat message and returns its ack, asserting that it is one.
    pub async fn send_acked(&mut self, m: Msg) -> Msg {
        let (id, seq) = (m.id.clone(), m.seq);
        self.send(m);
        let ack = self.recv().await;
        assert_ack(&ack, seq);
        if !id.is_empty() {
            assert_eq!(ack.id, id, "ack id");
        }
        ack
    }
}

/// The login frame of `user` with `token`.
pub fn login_frame(user: UserId, token: &str) -> Msg {
    Msg {
        id: "login-1".to_owned(),
        seq: 1,
        from_user_id: user.to_string(),
        to_user_id: KEEP_ALIVE.to_owned(),
        msg_type: MsgType::Event as i32,
        access_token: token.to_owned(),
        content: "127.0.0.1".to_owned(),
        ..Msg::default()
    }
}

/// A TEXT message.
pub fn chat(from: UserId, to: u64, chat_type: ChatType, id: &str, seq: u32, content: &str) -> Msg {
    Msg {
        id: id.to_owned(),
        seq,
        from_user_id: from.to_string(),
        to_user_id: to.to_string(),
        chat_type: chat_type as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        content: content.to_owned(),
        ..Msg::default()
    }
}

/// Asserts the SUCCESS frame of a login or heartbeat.
pub fn assert_success(m: &Msg, user: UserId) {
    assert_eq!(m.msg_type, MsgType::Event as i32, "not an event: {m:?}");
    assert_eq!(m.from_user_id, KEEP_ALIVE, "{m:?}");
    assert_eq!(m.to_user_id, user.to_string(), "{m:?}");
    assert_eq!(m.content, "SUCCESS", "{m:?}");
}

/// Asserts an error NOTIFY (protocol.md section 6). `user` 0 means before login.
pub fn assert_error(m: &Msg, code: &str, user: UserId, id: &str, seq: u32) {
    assert_eq!(m.msg_type, MsgType::Notify as i32, "not a NOTIFY: {m:?}");
    assert_eq!(m.from_user_id, "notify", "{m:?}");
    let to = if user == 0 {
        String::new()
    } else {
        user.to_string()
    };
    assert_eq!(m.to_user_id, to, "{m:?}");
    assert!(
        m.content.starts_with(&format!("{code}: ")),
        "expected {code}, got {m:?}"
    );
    assert_eq!(m.id, id, "error id: {m:?}");
    assert_eq!(m.seq, seq, "error seq: {m:?}");
}

/// Asserts an ack: SENT, an id, a timestamp, a conv_seq, the frame's seq and no token.
pub fn assert_ack(m: &Msg, seq: u32) {
    assert_ne!(
        m.msg_type,
        MsgType::Notify as i32,
        "an error, not an ack: {m:?}"
    );
    assert_eq!(m.status, MsgStatus::Sent as i32, "{m:?}");
    assert!(!m.id.is_empty(), "{m:?}");
    assert!(m.timestamp > 0, "{m:?}");
    assert!(m.conv_seq > 0, "{m:?}");
    assert_eq!(m.seq, seq, "{m:?}");
    assert!(m.access_token.is_empty(), "{m:?}");
}

/// Asserts a delivery of a chat message from `from`.
pub fn assert_delivery(m: &Msg, from: UserId, content: &str) {
    assert_ne!(
        m.msg_type,
        MsgType::Notify as i32,
        "an error, not a delivery: {m:?}"
    );
    assert_eq!(m.status, MsgStatus::Sent as i32, "{m:?}");
    assert_eq!(m.from_user_id, from.to_string(), "{m:?}");
    assert_eq!(m.content, content, "{m:?}");
    assert!(m.timestamp > 0, "{m:?}");
    assert!(m.conv_seq > 0, "{m:?}");
    assert!(m.access_token.is_empty(), "{m:?}");
}
