//! One connection's session: login, heartbeats, messages, receipts and errors
//! (protocol.md sections 3 to 6).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{
    frames, ChatType, CodecError, Encoded, ErrorCode, Msg, MsgStatus, MsgType, KEEP_ALIVE,
};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::auth::Grant;
use crate::bus::BusEvent;
use crate::engine::Engine;
use crate::error::AuthError;
use crate::hub::{ConnHandle, Kick};
use crate::ids::now_ms;
use crate::types::{Conversation, NewMessage, Receipt, StoreOutcome, UserId};

/// How many pending messages are read from storage per step of the login replay.
const REPLAY_PAGE: usize = 256;
/// The longest message id a client may choose.
const MAX_ID_LEN: usize = 128;

/// A connection before and after login. Created by [`Engine::open`]; [`Connection::run`]
/// drives it to its end.
#[derive(Debug)]
pub struct Connection {
    engine: Engine,
    tx: mpsc::Sender<Arc<Encoded>>,
    abort: CancellationToken,
}

/// The state of a logged-in session.
struct Session {
    engine: Engine,
    user: UserId,
    user_str: String,
    handle: Arc<ConnHandle>,
    bucket: Option<TokenBucket>,
}

impl Connection {
    pub(crate) fn new(
        engine: Engine,
        tx: mpsc::Sender<Arc<Encoded>>,
        abort: CancellationToken,
    ) -> Self {
        Connection { engine, tx, abort }
    }

    /// Runs the session over `frames`, the connection's decoded input, until the peer closes
    /// its side, the protocol closes the connection, or the engine shuts down. Everything the
    /// session queued before it returns is still yielded by the [`crate::Outbox`].
    pub async fn run<S>(self, mut frames: S)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let metrics = self.engine.inner.metrics.clone();
        metrics.connections.fetch_add(1, Relaxed);
        let _count = scopeguard(move || {
            metrics.connections.fetch_sub(1, Relaxed);
        });
        let Some(session) = self.login(&mut frames).await else {
            return;
        };
        session.run(frames).await;
    }

    fn send(&self, msg: Msg) {
        if self.tx.try_send(Arc::new(Encoded::new(msg))).is_ok() {
            self.engine.inner.metrics.frames_out.fetch_add(1, Relaxed);
        }
    }

    fn error(&self, code: ErrorCode, text: &str, frame: Option<&Msg>) {
        self.engine.inner.metrics.errors.fetch_add(1, Relaxed);
        let (id, seq) = frame.map_or(("", 0), |m| (m.id.as_str(), m.seq));
        self.send(frames::error(code, text, "", id, seq));
    }

    async fn login<S>(self, frames: &mut S) -> Option<Session>
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let inner = &self.engine.inner;
        let first = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => {
                self.error(ErrorCode::Shutdown, "the server is stopping", None);
                return None;
            }
            r = tokio::time::timeout(inner.config.auth_timeout, frames.next()) => r,
        };
        let msg = match first {
            Err(_) => {
                debug!("no login frame within AUTH_TIMEOUT");
                return None;
            }
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                self.error(e.code(), &e.to_string(), None);
                return None;
            }
            Ok(Some(Ok(m))) => m,
        };
        inner.metrics.frames_in.fetch_add(1, Relaxed);
        if msg.msg_type != MsgType::Event as i32 || msg.to_user_id != KEEP_ALIVE {
            inner.metrics.login_failures.fetch_add(1, Relaxed);
            self.error(
                ErrorCode::FirstMsg,
                "the first frame must be a KEEP_ALIVE event with an access token",
                Some(&msg),
            );
            return None;
        }
        let user = match inner.auth.verify(&msg.access_token).await {
            Ok(c) if c.grant == Grant::Access && c.user.to_string() == msg.from_user_id => c.user,
            Ok(_) => {
                inner.metrics.login_failures.fetch_add(1, Relaxed);
                self.error(
                    ErrorCode::Auth,
                    "the token is not an access token of from_user_id",
                    Some(&msg),
                );
                return None;
            }
            Err(AuthError::Storage(e)) => {
                warn!(error = %e, "storage failed during login");
                self.error(
                    ErrorCode::Internal,
                    "storage is unavailable, try again",
                    Some(&msg),
                );
                return None;
            }
            Err(e) => {
                inner.metrics.login_failures.fetch_add(1, Relaxed);
                self.error(ErrorCode::Auth, &e.to_string(), Some(&msg));
                return None;
            }
        };
        let user_str = user.to_string();
        self.send(frames::login_success(&user_str, &msg.id, msg.seq));
        inner.metrics.logins.fetch_add(1, Relaxed);

        let kick = CancellationToken::new();
        let handle = Arc::new(ConnHandle::new(
            inner.hub.next_conn_id(),
            self.tx.clone(),
            inner.config.send_queue.max(1),
            kick,
            self.abort.clone(),
            inner.metrics.clone(),
        ));
        inner.hub.register(user, handle.clone());
        let session = Session {
            engine: self.engine.clone(),
            user,
            user_str,
            handle,
            bucket: (inner.config.rate_limit > 0)
                .then(|| TokenBucket::new(inner.config.rate_limit)),
        };
        // Replay with the connection's own sender (it may wait for room: the peer is reading
        // its backlog), while live deliveries are held until the replay is done.
        if !session.replay(&self.tx).await {
            return None;
        }
        Some(session)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.engine.inner.hub.unregister(self.user, self.handle.id);
    }
}

impl Session {
    fn send(&self, msg: Msg) {
        self.handle.push(&Arc::new(Encoded::new(msg)), None);
    }

    fn error(&self, code: ErrorCode, text: &str, frame: &Msg) {
        self.engine.inner.metrics.errors.fetch_add(1, Relaxed);
        self.send(frames::error(
            code,
            text,
            &self.user_str,
            &frame.id,
            frame.seq,
        ));
    }

    /// Pushes every pending message, oldest first, then lets live deliveries through. Returns
    /// false if the connection must close.
    async fn replay(&self, tx: &mpsc::Sender<Arc<Encoded>>) -> bool {
        let inner = &self.engine.inner;
        let mut replayed: HashMap<Conversation, u64> = HashMap::new();
        let mut after = 0;
        loop {
            let t0 = Instant::now();
            let page = inner.storage.pending(self.user, after, REPLAY_PAGE).await;
            inner.metrics.observe_storage(t0.elapsed());
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %e, user = self.user, "could not read pending messages");
                    let m = frames::error(
                        ErrorCode::Internal,
                        "storage is unavailable, try again",
                        &self.user_str,
                        "",
                        0,
                    );
                    let _ = tx.try_send(Arc::new(Encoded::new(m)));
                    return false;
                }
            };
            let n = page.len();
            for p in page {
                after = p.order;
                let conv = p.message.conversation();
                let seq = replayed.entry(conv).or_default();
                *seq = (*seq).max(p.message.conv_seq);
                let frame = Arc::new(Encoded::new(p.message.to_msg()));
                let sent = tokio::select! {
                    biased;
                    _ = self.handle.kicked() => false,
                    _ = inner.shutdown.cancelled() => false,
                    r = tx.send(frame) => r.is_ok(),
                };
                if !sent {
                    return false;
                }
                inner.metrics.frames_out.fetch_add(1, Relaxed);
                inner.metrics.pending_pushed.fetch_add(1, Relaxed);
            }
            if n < REPLAY_PAGE {
                break;
            }
        }
        self.handle.finish_replay(replayed);
        true
    }

    async fn run<S>(mut self, mut frames: S)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let inner = self.engine.inner.clone();
        loop {
            let next = tokio::select! {
                biased;
                _ = self.handle.kicked() => {
                    if self.handle.reason() == Some(Kick::Revoked) {
                        let m = Msg::default();
                        self.error(ErrorCode::AuthRevoked, "the user's tokens were revoked", &m);
                    }
                    return;
                }
                _ = inner.shutdown.cancelled() => {
                    self.error(ErrorCode::Shutdown, "the server is stopping", &Msg::default());
                    return;
                }
                r = tokio::time::timeout(inner.config.idle_timeout, frames.next()) => r,
            };
            let msg = match next {
                Err(_) => {
                    self.error(
                        ErrorCode::Idle,
                        "no frame within SERVER_DROP_AFTER",
                        &Msg::default(),
                    );
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    self.error(e.code(), &e.to_string(), &Msg::default());
                    return;
                }
                Ok(Some(Ok(m))) => m,
            };
            inner.metrics.frames_in.fetch_add(1, Relaxed);
            if let Some(bucket) = &mut self.bucket {
                if !bucket.take() {
                    self.error(
                        ErrorCode::RateLimit,
                        "too many frames per second; this one was dropped",
                        &msg,
                    );
                    continue;
                }
            }
            self.handle_frame(msg).await;
        }
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
            Ok(_) => match MsgStatus::try_from(msg.status) {
                Ok(MsgStatus::Arrived) => self.receipt(msg, Receipt::Arrived).await,
                Ok(MsgStatus::Read) => self.receipt(msg, Receipt::Read).await,
                Ok(_) => self.chat(msg).await,
                Err(_) => self.error(ErrorCode::BadMsg, "unknown status", &msg),
            },
            Err(_) => self.error(ErrorCode::BadMsg, "unknown msg_type", &msg),
        }
    }

    async fn chat(&self, msg: Msg) {
        let inner = &self.engine.inner;
        let Ok(chat_type) = ChatType::try_from(msg.chat_type) else {
            return self.error(ErrorCode::BadMsg, "unknown chat_type", &msg);
        };
        if msg.content.is_empty() {
            return self.error(ErrorCode::BadMsg, "empty content", &msg);
        }
        if msg.id.len() > MAX_ID_LEN {
            return self.error(ErrorCode::BadMsg, "id longer than 128 bytes", &msg);
        }
        let Ok(to) = msg.to_user_id.parse::<u64>() else {
            return match chat_type {
                ChatType::Single => self.error(ErrorCode::NoUser, "no such user", &msg),
                ChatType::Group => self.error(ErrorCode::NoGroup, "no such group", &msg),
            };
        };
        if chat_type == ChatType::Single && to == self.user {
            return self.error(ErrorCode::BadMsg, "a message to oneself", &msg);
        }
        let new = NewMessage {
            id: if msg.id.is_empty() {
                self.engine.next_id().to_string()
            } else {
                msg.id.clone()
            },
            from: self.user,
            to,
            chat_type,
            msg_type: msg.msg_type,
            content: msg.content.clone(),
            timestamp: now_ms() as i64,
        };
        let conv = new.conversation();
        // Storing and queueing under the conversation's lock makes every connection see the
        // conversation in conv_seq order, however many users write to it at once.
        let _order = self.engine.conv_lock(&conv).lock().await;
        let t0 = Instant::now();
        let outcome = inner.storage.store_message(new).await;
        inner.metrics.observe_storage(t0.elapsed());
        match outcome {
            Err(e) => {
                warn!(error = %e, user = self.user, "could not store a message");
                self.error(
                    ErrorCode::Internal,
                    "storage failed; the message was not stored, resend it",
                    &msg,
                );
            }
            Ok(StoreOutcome::NoUser) => self.error(ErrorCode::NoUser, "no such user", &msg),
            Ok(StoreOutcome::NoGroup) => self.error(ErrorCode::NoGroup, "no such group", &msg),
            Ok(StoreOutcome::NotMember) => {
                self.error(ErrorCode::NotMember, "not a member of the group", &msg)
            }
            Ok(StoreOutcome::IdTaken) => self.error(
                ErrorCode::BadMsg,
                "another sender already used this id in the conversation",
                &msg,
            ),
            Ok(StoreOutcome::Duplicate(stored)) => {
                inner.metrics.acks.fetch_add(1, Relaxed);
                self.send(frames::ack(&stored.to_msg(), msg.seq));
            }
            Ok(StoreOutcome::Stored {
                message,
                mut recipients,
            }) => {
                inner.metrics.acks.fetch_add(1, Relaxed);
                let delivered = message.to_msg();
                self.send(frames::ack(&delivered, msg.seq));
                // The sender's other devices get it too (multi-device sync).
                recipients.push(self.user);
                let key = Some((conv, message.conv_seq));
                let frame = Arc::new(Encoded::new(delivered));
                let n = inner
                    .hub
                    .deliver(&recipients, &frame, key, Some(self.handle.id));
                inner.metrics.deliveries.fetch_add(n as u64, Relaxed);
                inner.bus.publish(BusEvent::Deliver {
                    users: recipients,
                    msg: frame.msg().clone(),
                    key,
                });
            }
        }
    }

    async fn receipt(&self, msg: Msg, receipt: Receipt) {
        let inner = &self.engine.inner;
        let chat_type = ChatType::try_from(msg.chat_type).unwrap_or(ChatType::Single);
        let (Ok(to), false) = (msg.to_user_id.parse::<u64>(), msg.id.is_empty()) else {
            return self.error(ErrorCode::NoMsg, "no such message", &msg);
        };
        let conv = Conversation::of(chat_type, self.user, to);
        let t0 = Instant::now();
        let r = inner
            .storage
            .record_receipt(self.user, conv, &msg.id, receipt)
            .await;
        inner.metrics.observe_storage(t0.elapsed());
        match r {
            Err(e) => {
                warn!(error = %e, user = self.user, "could not record a receipt");
                self.error(
                    ErrorCode::Internal,
                    "storage failed; the receipt was not recorded",
                    &msg,
                );
            }
            Ok(None) => self.error(ErrorCode::NoMsg, "no such message for this reader", &msg),
            Ok(Some(original)) => {
                inner.metrics.receipts.fetch_add(1, Relaxed);
                let fwd = frames::receipt(
                    &original.id,
                    receipt.status(),
                    &self.user_str,
                    &original.from.to_string(),
                    chat_type,
                    original.msg_type,
                    now_ms() as i64,
                );
                let frame = Arc::new(Encoded::new(fwd));
                inner.hub.deliver(&[original.from], &frame, None, None);
                inner.bus.publish(BusEvent::Deliver {
                    users: vec![original.from],
                    msg: frame.msg().clone(),
                    key: None,
                });
            }
        }
    }
}

/// A token bucket: `rate` tokens per second, holding at most `rate`.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        TokenBucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: tokio::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

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
