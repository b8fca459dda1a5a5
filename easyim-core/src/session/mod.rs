//! One connection's session: login, heartbeats, messages, receipts and errors
//! (protocol.md sections 3 to 6).
//!
//! - here: [`Connection`], and the frame loop of a logged-in session;
//! - `login`: the first frame, the token, registration in the hub;
//! - `replay`: the pending messages pushed at login;
//! - `chat`: chat messages, stored a batch at a time, acked and handed to the sequencer;
//! - `amend`: RECALL and EDIT frames, checked against their target, then stored as chat;
//! - `receipt`: arrived and read receipts;
//! - `typing`: TYPING frames, forwarded at once and never stored;
//! - `rate`: the per-connection token bucket.

mod amend;
mod chat;
mod gate;
mod hook;
mod login;
mod rate;
mod receipt;
mod replay;
mod typing;

use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use easyim_proto::{frames, CodecError, Encoded, ErrorCode, Msg, MsgStatus, MsgType, KEEP_ALIVE};
use futures::stream::Peekable;
use futures::{FutureExt, Stream, StreamExt};
use tracing::instrument;

use crate::hub::{ConnHandle, Kick};
use crate::node::Node;
use crate::outbox::{Outgoing, RESERVE};
use crate::recall::Amend;
use crate::types::{Receipt, UserId};

use chat::Refusal;
use rate::TokenBucket;

/// What a frame over the rate limit is told.
const RATE_LIMITED: &str = "too many frames per second; this one was dropped";
/// The most chat messages one storage step takes from a connection.
const MAX_BATCH: usize = 64;

/// A connection before and after login. Created by [`crate::Engine::open`];
/// [`Connection::run`] drives it to its end.
#[derive(Debug)]
pub struct Connection {
    node: Arc<Node>,
    /// The connection's id in the hub, for logs.
    id: u64,
    /// Its queue and kick switch, registered in the hub once its login checks out.
    handle: Arc<ConnHandle>,
}

/// The state of a logged-in session.
struct Session {
    node: Arc<Node>,
    user: UserId,
    user_str: String,
    handle: Arc<ConnHandle>,
    bucket: Option<TokenBucket>,
}

impl Connection {
    /// Connection `id`, on `node`, writing to `out`.
    pub(crate) fn new(node: Arc<Node>, id: u64, out: Outgoing) -> Self {
        let handle = Arc::new(ConnHandle::new(id, out));
        Connection { node, id, handle }
    }

    /// Runs the session over `frames`, the connection's decoded input, until the peer closes
    /// its side, the protocol closes the connection, or the engine shuts down. Everything the
    /// session queued before it returns is still yielded by the [`crate::Outbox`].
    ///
    /// Its span, `conn` (the connection id and, once logged in, the user), is at debug level:
    /// an enabled span is entered and left on every poll of the connection, which under an
    /// `EnvFilter` is a read of a shared lock per frame. The session's warnings carry both
    /// fields themselves.
    #[instrument(
        name = "conn",
        level = "debug",
        skip_all,
        fields(conn = self.id, user = tracing::field::Empty)
    )]
    pub async fn run<S>(self, mut frames: S)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let metrics = self.node.metrics.clone();
        metrics.connections.fetch_add(1, Relaxed);
        let _count = scopeguard(move || {
            metrics.connections.fetch_sub(1, Relaxed);
        });
        let Some(session) = self.login(&mut frames).await else {
            return;
        };
        tracing::Span::current().record("user", session.user);
        // Live deliveries are held until the replay is done.
        if !session.replay().await {
            return;
        }
        session.run(frames).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let left = self.node.router.hub().unregister(self.user, self.handle.id);
        self.node.disconnected(self.user, left);
        if left == Some(0) {
            if let Some(events) = self.node.events.get() {
                events.presence(self.user, false);
            }
        }
    }
}

impl Session {
    /// Queues one of this connection's own answers; never dropped (see [`Outgoing::reply`]).
    fn send(&self, msg: Msg) {
        self.handle.reply(&Arc::new(Encoded::new(msg)));
    }

    fn error(&self, code: ErrorCode, text: &str, frame: &Msg) {
        self.node.metrics.errors.fetch_add(1, Relaxed);
        self.send(frames::error(
            code,
            text,
            &self.user_str,
            &frame.id,
            frame.seq,
        ));
    }

    async fn run<S>(mut self, frames: S)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let mut frames = frames.peekable();
        while let Some(msg) = self.next_frame(&mut frames).await {
            if !self.admit() {
                self.error(ErrorCode::RateLimit, RATE_LIMITED, &msg);
                continue;
            }
            if !self.is_chat(&msg) {
                self.handle_frame(msg).await;
                continue;
            }
            let (batch, carried) = self.gather(msg, &mut frames);
            self.chat(batch).await;
            if carried {
                // The frame that ended the batch, counted and rate-checked already.
                if let Some(Some(Ok(m))) = frames.next().now_or_never() {
                    self.handle_frame(m).await;
                }
            }
        }
    }

    /// Waits for the next frame; `None` when the session is over (its last word queued).
    ///
    /// Reads nothing while the queue lacks room for the answers to one batch: a peer that does
    /// not read its answers is not read either (TCP backpressure); one that takes no frame for
    /// `STALL_TIMEOUT` is closed. A lagging connection is refilled from storage meanwhile.
    async fn next_frame<S>(&self, frames: &mut Peekable<S>) -> Option<Msg>
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let node = &self.node;
        let out = self.handle.out();
        let idle = tokio::time::Instant::now() + node.config.idle_timeout;
        let next = loop {
            if !self.catch_up().await {
                return None;
            }
            let room = tokio::select! {
                biased;
                _ = self.handle.kicked() => return self.closing(),
                _ = node.shutdown.cancelled() => return self.closing(),
                _ = out.lag_signal() => continue,
                r = out.wait_room(RESERVE, node.config.stall_timeout()) => r,
            };
            if room.is_none() {
                self.stalled();
                return None;
            }
            tokio::select! {
                biased;
                _ = self.handle.kicked() => return self.closing(),
                _ = node.shutdown.cancelled() => return self.closing(),
                _ = out.lag_signal() => continue,
                r = tokio::time::timeout_at(idle, frames.next()) => break r,
            }
        };
        match next {
            Err(_) => {
                let text = "no frame within SERVER_DROP_AFTER";
                self.error(ErrorCode::Idle, text, &Msg::default());
                None
            }
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                self.error(e.code(), &e.to_string(), &Msg::default());
                None
            }
            Ok(Some(Ok(m))) => Some(m),
        }
    }

    /// The last word of a session that was kicked or is shutting down; always `None`.
    pub(super) fn closing(&self) -> Option<Msg> {
        if self.handle.reason() == Some(Kick::Revoked) {
            let m = Msg::default();
            self.error(ErrorCode::AuthRevoked, "the user's tokens were revoked", &m);
        } else if self.handle.reason().is_none() && self.node.shutdown.is_cancelled() {
            self.error(
                ErrorCode::Shutdown,
                "the server is stopping",
                &Msg::default(),
            );
        }
        None
    }

    /// Gathers, after the chat message `first`, the ones the client sent back to back (those
    /// already buffered), so that they go to storage in one step: one round trip and one
    /// commit for the lot, in the order sent. A frame over the rate limit in the middle is
    /// answered in its place. Stops at `MAX_BATCH`, at a frame not buffered yet, at an error
    /// or the end (left in `frames`, handled next), or at another kind of frame: then the
    /// second value is true, and that frame, counted and rate-checked already, is next.
    fn gather<S>(&mut self, first: Msg, frames: &mut Peekable<S>) -> (Vec<Gathered>, bool)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let mut batch = vec![(first, None)];
        while batch.len() < MAX_BATCH {
            let chat = match Pin::new(&mut *frames).peek().now_or_never() {
                Some(Some(Ok(m))) => self.is_chat(m),
                _ => break,
            };
            let admitted = self.admit();
            if admitted && !chat {
                return (batch, true);
            }
            let Some(Some(Ok(m))) = frames.next().now_or_never() else {
                break;
            };
            let refused = (!admitted).then_some((ErrorCode::RateLimit, RATE_LIMITED));
            batch.push((m, refused));
        }
        (batch, false)
    }

    /// Counts a frame and applies the rate limit; false if it is to be dropped.
    fn admit(&mut self) -> bool {
        self.node.metrics.frames_in.fetch_add(1, Relaxed);
        self.bucket.as_mut().is_none_or(TokenBucket::take)
    }

    /// Whether `msg` is a chat message from this user (not an event, notice or receipt).
    fn is_chat(&self, msg: &Msg) -> bool {
        msg.from_user_id == self.user_str
            && matches!(
                MsgType::try_from(msg.msg_type),
                Ok(MsgType::Text | MsgType::Image | MsgType::Voice | MsgType::Video)
            )
            && !matches!(
                MsgStatus::try_from(msg.status),
                Ok(MsgStatus::Arrived | MsgStatus::Read) | Err(_)
            )
    }

    async fn handle_frame(&self, msg: Msg) {
        if msg.from_user_id != self.user_str {
            return self.error(
                ErrorCode::Auth,
                "from_user_id is not the logged-in user",
                &msg,
            );
        }
        match MsgType::try_from(msg.msg_type) {
            Ok(MsgType::Event) => {
                if msg.to_user_id == KEEP_ALIVE {
                    self.send(frames::heartbeat_reply(&self.user_str, &msg.id, msg.seq));
                } else {
                    self.error(ErrorCode::BadMsg, "unknown event id", &msg);
                }
            }
            Ok(MsgType::Notify) => {
                self.error(ErrorCode::BadMsg, "clients may not send NOTIFY", &msg)
            }
            Ok(MsgType::Typing) => self.typing(msg).await,
            Ok(MsgType::Presence) => {
                self.error(ErrorCode::BadMsg, "clients may not send PRESENCE", &msg)
            }
            Ok(_) => match MsgStatus::try_from(msg.status) {
                Ok(MsgStatus::Arrived) => self.receipt(msg, Receipt::Arrived).await,
                Ok(MsgStatus::Read) => self.receipt(msg, Receipt::Read).await,
                Ok(_) => match Amend::of(msg.msg_type) {
                    Some(amend) => self.amend(msg, amend).await,
                    None => self.chat(vec![(msg, None)]).await,
                },
                Err(_) => self.error(ErrorCode::BadMsg, "unknown status", &msg),
            },
            Err(_) => self.error(ErrorCode::BadMsg, "unknown msg_type", &msg),
        }
    }
}

/// A chat message of a batch, and why it is refused before storage, if it is.
type Gathered = (Msg, Option<Refusal>);

/// Runs `f` when dropped.
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests;
