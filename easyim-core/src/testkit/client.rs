//! [`Client`]: one connection to an [`Engine`], in process, for tests.
//!
//! It stands where a transport would: frames go into [`Connection::run`](crate::Connection::run)
//! through a channel, as if decoded from a socket, and come out of the connection's
//! [`Outbox`]. No sockets, no codec: what a test sees is exactly what the engine queued.

use std::time::Duration;

use easyim_proto::{ChatType, CodecError, Msg, MsgStatus, MsgType, KEEP_ALIVE};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::outbox::Outbox;
use crate::types::UserId;

/// How many frames a client may queue before the session reads them: as a socket buffer would,
/// it bounds what a test can push ahead of the session.
const INPUT_QUEUE: usize = 1024;

/// Why a [`Client`] call did not get what it expected.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No frame came within the client's wait ([`Client::with_wait`]).
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    /// The connection ended (its session closed it, or the client did).
    #[error("the connection is closed")]
    Closed,
    /// A frame came that is not the one expected (an error NOTIFY, say); here it is.
    #[error("unexpected frame {0:?}")]
    Unexpected(Box<Msg>),
}

/// One in-process connection to an [`Engine`]: [`Engine::open`], its session run on a spawned
/// task (so a tokio runtime is needed), frames in through a bounded channel, frames out of the
/// [`Outbox`].
///
/// ```ignore
/// let mut alice = Client::connect(im.engine());
/// alice.login(alice_id, &alice_token).await?;
/// alice.send(alice.text(bob_id, ChatType::Single, "m1", 2, "hi")).await?;
/// let ack = alice.expect_ack("m1", 2).await?;
/// ```
#[derive(Debug)]
pub struct Client {
    /// `None` once the client closed its side (the session sees the end of its stream).
    tx: Option<mpsc::Sender<Result<Msg, CodecError>>>,
    out: Outbox,
    task: JoinHandle<()>,
    /// The logged-in user; 0 before login (the frames it builds then have no sender).
    user: UserId,
    wait: Duration,
}

impl Client {
    /// How long a client waits for a frame, unless told otherwise.
    pub const WAIT: Duration = Duration::from_secs(5);

    /// Opens a connection on `engine` and starts its session; it is not logged in yet.
    pub fn connect(engine: &Engine) -> Client {
        let (conn, out) = engine.open();
        let (tx, mut rx) = mpsc::channel::<Result<Msg, CodecError>>(INPUT_QUEUE);
        let frames = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Client {
            tx: Some(tx),
            out,
            task: tokio::spawn(conn.run(frames)),
            user: 0,
            wait: Client::WAIT,
        }
    }

    /// The same client, waiting `wait` for each frame it expects.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The logged-in user, 0 before [`Client::login`].
    pub fn user(&self) -> UserId {
        self.user
    }

    /// Logs in as `user` with an access token: sends the `KEEP_ALIVE` login frame and returns
    /// the `SUCCESS` frame. Anything else is [`ClientError::Unexpected`] (the session then
    /// closes the connection).
    pub async fn login(&mut self, user: UserId, token: &str) -> Result<Msg, ClientError> {
        self.send(login_frame(user, token)).await?;
        let m = self.next().await?;
        let success = m.msg_type == MsgType::Event as i32
            && m.from_user_id == KEEP_ALIVE
            && m.to_user_id == user.to_string()
            && m.content == "SUCCESS";
        if !success {
            return Err(ClientError::Unexpected(Box::new(m)));
        }
        self.user = user;
        Ok(m)
    }

    /// Sends a frame to the session, waiting if its input queue is full.
    pub async fn send(&self, m: Msg) -> Result<(), ClientError> {
        self.send_raw(Ok(m)).await
    }

    /// Sends a frame or a decoding error (what a transport passes on for a bad frame).
    pub async fn send_raw(&self, m: Result<Msg, CodecError>) -> Result<(), ClientError> {
        let tx = self.tx.as_ref().ok_or(ClientError::Closed)?;
        tx.send(m).await.map_err(|_| ClientError::Closed)
    }

    /// The next frame, or `None` if none comes within the wait or the connection ended.
    pub async fn recv(&mut self) -> Option<Msg> {
        self.next().await.ok()
    }

    /// The next frame, telling a timeout from the end of the connection.
    pub async fn next(&mut self) -> Result<Msg, ClientError> {
        match tokio::time::timeout(self.wait, self.out.recv()).await {
            Ok(Some(frame)) => Ok(frame.msg().clone()),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout(self.wait)),
        }
    }

    /// Expects the next frame to be the ack of the message `id` sent with `seq`: `SENT`, a
    /// `conv_seq`, no token. An error NOTIFY or any other frame is
    /// [`ClientError::Unexpected`].
    pub async fn expect_ack(&mut self, id: &str, seq: u32) -> Result<Msg, ClientError> {
        let m = self.next().await?;
        let ack = m.msg_type != MsgType::Notify as i32
            && m.status == MsgStatus::Sent as i32
            && m.id == id
            && m.seq == seq
            && m.conv_seq > 0
            && m.access_token.is_empty();
        if ack {
            Ok(m)
        } else {
            Err(ClientError::Unexpected(Box::new(m)))
        }
    }

    /// Sends a chat message and expects its ack.
    pub async fn send_acked(&mut self, m: Msg) -> Result<Msg, ClientError> {
        let (id, seq) = (m.id.clone(), m.seq);
        self.send(m).await?;
        self.expect_ack(&id, seq).await
    }

    /// Closes the client's side: the session sees the end of its input, finishes and the
    /// outbox ends after what was queued (read it with [`Client::recv`] until `None`).
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// Closes the client's side and waits for the session to end.
    pub async fn finish(mut self) {
        self.close();
        while self.out.recv().await.is_some() {}
        let _ = self.task.await;
    }

    /// A TEXT message from this client's user to `to` (a user, or a group for `Group`).
    pub fn text(&self, to: u64, chat_type: ChatType, id: &str, seq: u32, content: &str) -> Msg {
        Msg {
            id: id.to_owned(),
            seq,
            from_user_id: self.user.to_string(),
            to_user_id: to.to_string(),
            chat_type: chat_type as i32,
            msg_type: MsgType::Text as i32,
            status: MsgStatus::Sent as i32,
            content: content.to_owned(),
            ..Msg::default()
        }
    }

    /// A receipt (`status` ARRIVED or READ) from this client's user for message `id`, sent to
    /// `to`: the message's sender for `Single`, its group for `Group`.
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
}

/// The login frame of `user` with the access token `token` (protocol.md: a `KEEP_ALIVE` EVENT
/// whose content is the client's address).
pub fn login_frame(user: UserId, token: &str) -> Msg {
    Msg {
        id: "login".to_owned(),
        seq: 1,
        from_user_id: user.to_string(),
        to_user_id: KEEP_ALIVE.to_owned(),
        msg_type: MsgType::Event as i32,
        access_token: token.to_owned(),
        content: "in-process".to_owned(),
        ..Msg::default()
    }
}
