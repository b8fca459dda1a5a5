//! Chat messages (protocol.md section 4): checked, stored a batch at a time, answered in the
//! order sent (ack or error), and handed to the sequencer for delivery.

use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{frames, ChatType, Encoded, ErrorCode, Msg};
use tracing::{instrument, warn};

use super::gate::Standing;
use super::{Gathered, Session};
use crate::delivery::Router;
use crate::error::StorageError;
use crate::ids::now_ms;
use crate::sequencer::{Delivery, Ticket};
use crate::types::{NewMessage, StoreOutcome};

/// The longest message id a client may choose (and the longest `ref_id`).
pub(super) const MAX_ID_LEN: usize = 128;

/// Why a message is refused before storage: the error code and its text.
pub(super) type Refusal = (ErrorCode, &'static str);

/// A stored message and its recipients that had no live connection.
type Offline = (crate::types::StoredMessage, Vec<crate::types::UserId>);

/// A message of a batch: refused before storage, or being stored.
enum Slot {
    Refused(ErrorCode, Cow<'static, str>, Msg),
    Storing(Msg, Ticket<Router>),
}

impl Session {
    /// Stores a batch of chat messages in one storage step, then answers each in the order
    /// sent (ack or error) and hands each stored one to the sequencer for delivery.
    pub(super) async fn chat(&self, batch: Vec<Gathered>) {
        let checked = batch
            .into_iter()
            .map(|(msg, refused)| {
                let new = refused.map_or_else(|| self.check_chat(&msg), Err);
                (msg, new)
            })
            .collect();
        self.commit(checked).await;
    }

    /// Stores the checked messages of a batch in one storage step, then answers each in the
    /// order sent (ack or error) and hands each stored one to the sequencer for delivery.
    pub(super) async fn commit(&self, batch: Vec<(Msg, Result<NewMessage, Refusal>)>) {
        let node = &self.node;
        let mut slots = Vec::with_capacity(batch.len());
        let mut news = Vec::with_capacity(batch.len());
        let mut standing = Standing::default();
        let mut checked = Vec::with_capacity(batch.len());
        for (msg, new) in batch {
            let c = match new {
                Ok(new) => self.gate_once(&new, &mut standing).await.map(|()| new),
                Err(refusal) => Err(refusal),
            };
            checked.push((msg, c.map_err(|(code, text)| (code, Cow::Borrowed(text)))));
        }
        for (msg, checked) in self.before_send(checked).await {
            match checked {
                Err((code, text)) => slots.push(Slot::Refused(code, text, msg)),
                Ok(new) => {
                    let ticket = node.sequencer.begin(new.conversation(), &node.router);
                    slots.push(Slot::Storing(msg, ticket));
                    news.push(new);
                }
            }
        }
        let mut outcomes = self.store_batch(news).await.into_iter();
        let mut offline = Vec::new();
        for slot in slots {
            match slot {
                Slot::Refused(code, text, msg) => self.error(code, &text, &msg),
                Slot::Storing(msg, ticket) => match outcomes.next().unwrap_or(Err(())) {
                    Err(()) => self.error(
                        ErrorCode::Internal,
                        "storage failed; the message was not stored, resend it",
                        &msg,
                    ),
                    Ok(outcome) => self.answer(msg, outcome, ticket, &mut offline),
                },
            }
        }
        self.note_offline(offline).await;
    }

    /// The storage step of a batch: one outcome per message, in order (`Err` if storage
    /// failed).
    #[instrument(level = "debug", skip_all, fields(n = news.len()))]
    async fn store_batch(&self, news: Vec<NewMessage>) -> Vec<Result<StoreOutcome, ()>> {
        let node = &self.node;
        let expected = news.len();
        if expected == 0 {
            return Vec::new();
        }
        let t0 = Instant::now();
        let mut outcomes = node.storage.store_messages(news).await;
        node.metrics.observe_storage(t0.elapsed());
        if outcomes.as_ref().is_ok_and(|o| o.len() != expected) {
            outcomes = Err(StorageError::unavailable_msg(
                "store_messages returned a wrong number of outcomes",
            ));
        }
        match outcomes {
            Ok(o) => o.into_iter().map(Ok).collect(),
            Err(e) => {
                warn!(error = %e, user = self.user, conn = self.handle.id, "could not store messages");
                vec![Err(()); expected]
            }
        }
    }

    /// The checks that need no storage; on success, the message to store.
    fn check_chat(&self, msg: &Msg) -> Result<NewMessage, Refusal> {
        let Ok(chat_type) = ChatType::try_from(msg.chat_type) else {
            return Err((ErrorCode::BadMsg, "unknown chat_type"));
        };
        if msg.content.is_empty() {
            return Err((ErrorCode::BadMsg, "empty content"));
        }
        if msg.id.len() > MAX_ID_LEN {
            return Err((ErrorCode::BadMsg, "id longer than 128 bytes"));
        }
        if msg.ref_id.len() > MAX_ID_LEN {
            return Err((ErrorCode::BadMsg, "ref_id longer than 128 bytes"));
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
                self.node.ids.next_id().to_string()
            } else {
                msg.id.clone()
            },
            from: self.user,
            to,
            chat_type,
            msg_type: msg.msg_type,
            content: msg.content.clone(),
            timestamp: now_ms() as i64,
            ref_id: msg.ref_id.clone(),
        })
    }

    /// Answers one stored (or refused) message, and releases a stored one for delivery; notes
    /// a stored one's recipients without a live connection in `offline` (when
    /// `message.offline` events are on).
    fn answer(
        &self,
        msg: Msg,
        outcome: StoreOutcome,
        ticket: Ticket<Router>,
        offline: &mut Vec<Offline>,
    ) {
        let metrics = &self.node.metrics;
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
                metrics.acks.fetch_add(1, Relaxed);
                self.send(frames::ack(&stored.to_msg(), msg.seq));
            }
            StoreOutcome::Stored {
                message,
                mut recipients,
            } => {
                metrics.acks.fetch_add(1, Relaxed);
                self.find_offline(&message, &recipients, offline);
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
}

impl Session {
    /// Adds `message` and its recipients with no live connection on this node to `offline`,
    /// if `message.offline` events are on.
    fn find_offline(
        &self,
        message: &crate::types::StoredMessage,
        recipients: &[crate::types::UserId],
        offline: &mut Vec<Offline>,
    ) {
        if !self.node.events.get().is_some_and(|o| o.on()) {
            return;
        }
        let hub = self.node.router.hub();
        let users: Vec<_> = recipients
            .iter()
            .copied()
            .filter(|&u| hub.online(u) == 0)
            .collect();
        if !users.is_empty() {
            offline.push((message.clone(), users));
        }
    }

    /// Hands the batch's offline recipients to the `message.offline` worker.
    async fn note_offline(&self, offline: Vec<Offline>) {
        if let Some(events) = self.node.events.get() {
            for (message, users) in offline {
                events.note(message, users).await;
            }
        }
    }
}
