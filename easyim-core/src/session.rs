//! One connection's session: login, heartbeats, messages, receipts and errors
//! (protocol.md sections 3 to 6).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{
    frames, ChatType, CodecError, Encoded, ErrorCode, Msg, MsgStatus, MsgType, KEEP_ALIVE,
};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::auth::Grant;
use crate::bus::BusEvent;
use crate::engine::{Engine, Inner};
use crate::error::AuthError;
use crate::hub::{ConnHandle, Kick};
use crate::ids::now_ms;
use crate::sequencer::{Delivery, Ticket};
use crate::types::{Conversation, NewMessage, Receipt, StoreOutcome, UserId};

/// How many pending messages are read from storage per step of the login replay.
const REPLAY_PAGE: usize = 256;
/// The longest message id a client may choose.
const MAX_ID_LEN: usize = 128;
/// How long a closing error waits for room in a full queue during the login replay.
const LAST_WORD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// What a frame over the rate limit is told.
const RATE_LIMITED: &str = "too many frames per second; this one was dropped";
/// The most chat messages one storage step takes from a connection.
const MAX_BATCH: usize = 64;

/// A message of a batch: refused before storage, or being stored.
enum Slot {
    Refused(ErrorCode, &'static str, Msg),
    Storing(Msg, Ticket<Inner>),
}

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
                    self.last_word(tx, ErrorCode::Internal, "storage is unavailable, try again")
                        .await;
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
                    if self.handle.reason() == Some(Kick::Revoked) {
                        let text = "the user's tokens were revoked";
                        self.last_word(tx, ErrorCode::AuthRevoked, text).await;
                    } else if inner.shutdown.is_cancelled() {
                        self.last_word(tx, ErrorCode::Shutdown, "the server is stopping")
                            .await;
                    }
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

    /// Queues a closing error during the replay, when live frames are still held back; waits
    /// a little for room, since the replay may have filled the queue.
    async fn last_word(&self, tx: &mpsc::Sender<Arc<Encoded>>, code: ErrorCode, text: &str) {
        self.engine.inner.metrics.errors.fetch_add(1, Relaxed);
        let m = frames::error(code, text, &self.user_str, "", 0);
        let wait = tokio::time::timeout(LAST_WORD_WAIT, tx.send(Arc::new(Encoded::new(m))));
        let _ = wait.await;
    }

    async fn run<S>(mut self, mut frames: S)
    where
        S: Stream<Item = Result<Msg, CodecError>> + Unpin + Send,
    {
        let inner = self.engine.inner.clone();
        // A frame already taken from the stream while gathering a batch, to handle next.
        let mut carry: Option<Option<Result<Msg, CodecError>>> = None;
        loop {
            let next = match carry.take() {
                Some(item) => Ok(item),
                None => tokio::select! {
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
                },
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
            if !self.admit() {
                self.error(ErrorCode::RateLimit, RATE_LIMITED, &msg);
                continue;
            }
            if !self.is_chat(&msg) {
                self.handle_frame(msg).await;
                continue;
            }
            // Chat messages the client sent back to back go to storage in one step: one round
            // trip and one commit for the lot, in the order sent.
            // A frame over the rate limit in the middle is answered in its place.
            let mut batch = vec![(msg, None)];
            while batch.len() < MAX_BATCH {
                match frames.next().now_or_never() {
                    None => break,
                    Some(Some(Ok(m))) => {
                        if !self.admit() {
                            batch.push((m, Some((ErrorCode::RateLimit, RATE_LIMITED))));
                        } else if self.is_chat(&m) {
                            batch.push((m, None));
                        } else {
                            carry = Some(Some(Ok(m)));
                            break;
                        }
                    }
                    Some(other) => {
                        carry = Some(other);
                        break;
                    }
                }
            }
            self.chat(batch).await;
            // A frame carried over was counted and rate-checked already.
            match carry.take() {
                Some(Some(Ok(m))) => self.handle_frame(m).await,
                other => carry = other,
            }
        }
    }

    /// Counts a frame and applies the rate limit; false if it is to be dropped.
    fn admit(&mut self) -> bool {
        self.engine.inner.metrics.frames_in.fetch_add(1, Relaxed);
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
            Ok(_) => match MsgStatus::try_from(msg.status) {
                Ok(MsgStatus::Arrived) => self.receipt(msg, Receipt::Arrived).await,
                Ok(MsgStatus::Read) => self.receipt(msg, Receipt::Read).await,
                Ok(_) => self.chat(vec![(msg, None)]).await,
                Err(_) => self.error(ErrorCode::BadMsg, "unknown status", &msg),
            },
            Err(_) => self.error(ErrorCode::BadMsg, "unknown msg_type", &msg),
        }
    }

    /// Stores a batch of chat messages in one storage step, then answers each in the order
    /// sent (ack or error) and hands each stored one to the sequencer for delivery.
    async fn chat(&self, batch: Vec<(Msg, Option<(ErrorCode, &'static str)>)>) {
        let inner = &self.engine.inner;
        let mut slots = Vec::with_capacity(batch.len());
        let mut news = Vec::with_capacity(batch.len());
        for (msg, refused) in batch {
            match refused.map_or_else(|| self.check_chat(&msg), Err) {
                Err((code, text)) => slots.push(Slot::Refused(code, text, msg)),
                Ok(new) => {
                    let ticket = inner.sequencer.begin(new.conversation(), inner);
                    slots.push(Slot::Storing(msg, ticket));
                    news.push(new);
                }
            }
        }
        let expected = news.len();
        let mut outcomes = if news.is_empty() {
            Ok(Vec::new())
        } else {
            let t0 = Instant::now();
            let r = inner.storage.store_messages(news).await;
            inner.metrics.observe_storage(t0.elapsed());
            r
        };
        if outcomes.as_ref().is_ok_and(|o| o.len() != expected) {
            outcomes = Err(crate::StorageError::unavailable_msg(
                "store_messages returned a wrong number of outcomes",
            ));
        }
        let mut outcomes = match outcomes {
            Ok(o) => o.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
            Err(e) => {
                warn!(error = %e, user = self.user, "could not store messages");
                vec![Err(()); expected].into_iter()
            }
        };
        for slot in slots {
            match slot {
                Slot::Refused(code, text, msg) => self.error(code, text, &msg),
                Slot::Storing(msg, ticket) => match outcomes.next().unwrap_or(Err(())) {
                    Err(()) => self.error(
                        ErrorCode::Internal,
                        "storage failed; the message was not stored, resend it",
                        &msg,
                    ),
                    Ok(outcome) => self.answer(msg, outcome, ticket),
                },
            }
        }
    }

    /// The checks that need no storage; on success, the message to store.
    fn check_chat(&self, msg: &Msg) -> Result<NewMessage, (ErrorCode, &'static str)> {
        let Ok(chat_type) = ChatType::try_from(msg.chat_type) else {
            return Err((ErrorCode::BadMsg, "unknown chat_type"));
        };
        if msg.content.is_empty() {
            return Err((ErrorCode::BadMsg, "empty content"));
        }
        if msg.id.len() > MAX_ID_LEN {
            return Err((ErrorCode::BadMsg, "id longer than 128 bytes"));
        }
        let Ok(to) = msg.to_user_id.parse::<u64>() else {
            return Err(match chat_type {
                ChatType::Single => (ErrorCode::NoUser, "no such user"),
                ChatType::Group => (ErrorCode::NoGroup, "no such group"),
            });
        };
        if chat_type == ChatType::Single && to == self.user {
            return Err((ErrorCode::BadMsg, "a message to oneself"));
        }
        Ok(NewMessage {
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
        })
    }

    /// Answers one stored (or refused) message, and releases a stored one for delivery.
    fn answer(&self, msg: Msg, outcome: StoreOutcome, ticket: Ticket<Inner>) {
        let inner = &self.engine.inner;
        match outcome {
            StoreOutcome::NoUser => self.error(ErrorCode::NoUser, "no such user", &msg),
            StoreOutcome::NoGroup => self.error(ErrorCode::NoGroup, "no such group", &msg),
            StoreOutcome::NotMember => {
                self.error(ErrorCode::NotMember, "not a member of the group", &msg)
            }
            StoreOutcome::IdTaken => self.error(
                ErrorCode::BadMsg,
                "another sender already used this id in the conversation",
                &msg,
            ),
            StoreOutcome::Duplicate(stored) => {
                inner.metrics.acks.fetch_add(1, Relaxed);
                self.send(frames::ack(&stored.to_msg(), msg.seq));
            }
            StoreOutcome::Stored {
                message,
                mut recipients,
            } => {
                inner.metrics.acks.fetch_add(1, Relaxed);
                let delivered = message.to_msg();
                let ack = Arc::new(Encoded::new(frames::ack(&delivered, msg.seq)));
                // The sender's other devices get it too (multi-device sync).
                recipients.push(self.user);
                ticket.finish(
                    message.conv_seq,
                    Delivery {
                        users: recipients,
                        frame: Arc::new(Encoded::new(delivered)),
                        except: Some(self.handle.id),
                        ack: Some((self.handle.clone(), ack)),
                        local: true,
                    },
                );
                return;
            }
        }
        drop(ticket);
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
