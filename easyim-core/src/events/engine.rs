//! [`EngineEvents`]: the events only the engine knows of: `message.offline`, one per
//! recipient that had no live connection when its message was handed to delivery, and
//! `user.online` / `user.offline`, a user's first connection on this node and its last one
//! gone.
//!
//! Presence events are appended by the same worker (keyed `u:<id>`, so in order per user);
//! they are noted where a connection is registered or dropped, which cannot wait, so when the
//! worker is `QUEUE` jobs behind a presence event is dropped (and logged).
//!
//! Unlike `message.created`, this event depends on the engine (who is connected), so the
//! storage cannot write it with the message: the engine notes the offline recipients right
//! after the message is stored and queued for delivery, and a worker task reads each one's
//! push devices and whether it muted the conversation, and appends the events to the outbox
//! (keyed by the conversation, so they follow its `message.created`). Once appended they are
//! as durable as any event; a crash between the ack and the append loses them (the message's
//! `message.created`, written with it, still lists every recipient). "Connected" means on this
//! node: in a cluster, a recipient connected to another node only counts as offline.

use std::sync::{Arc, OnceLock};

use serde_json::json;
use tokio::sync::mpsc;
use tracing::warn;

use super::{message_offline, EventKind, NewEvent};
use crate::storage::Storage;
use crate::summary::SettingsChange;
use crate::types::{StoredMessage, UserId};

/// Messages with offline recipients waiting for the worker; past it, the chat path waits.
const QUEUE: usize = 1024;

/// A job of the worker.
#[derive(Debug)]
enum Job {
    /// A stored message and its recipients that had no live connection.
    Offline {
        message: StoredMessage,
        users: Vec<UserId>,
    },
    /// A ready event (presence).
    Event(NewEvent),
}

/// The engine's side of `message.offline`: cheap to ask whether it is on, and a bounded queue
/// to a worker started on first use.
pub(crate) struct EngineEvents {
    storage: Arc<dyn Storage>,
    tx: OnceLock<mpsc::Sender<Job>>,
    node_id: u16,
}

impl std::fmt::Debug for EngineEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineEvents").finish_non_exhaustive()
    }
}

impl EngineEvents {
    pub(crate) fn new(storage: Arc<dyn Storage>, node_id: u16) -> Self {
        EngineEvents {
            storage,
            tx: OnceLock::new(),
            node_id,
        }
    }

    fn sender(&self) -> &mpsc::Sender<Job> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(work(self.storage.clone(), rx));
            tx
        })
    }

    /// Notes that `user`'s first connection on this node came (`online`) or its last one
    /// went, if those events are on. Never waits: dropped (and logged) when the worker is
    /// behind. Needs a tokio runtime.
    pub(crate) fn presence(&self, user: UserId, online: bool) {
        let kind = if online {
            EventKind::UserOnline
        } else {
            EventKind::UserOffline
        };
        if !self.storage.event_filter().wants(kind) {
            return;
        }
        let at = crate::ids::now_ms() as i64;
        let event = user_presence(kind, user, self.node_id, at);
        if self.sender().try_send(Job::Event(event)).is_err() {
            warn!(user, kind = %kind, "presence event dropped: the event worker is behind");
        }
    }

    /// Whether `message.offline` events are written (one atomic load).
    pub(crate) fn on(&self) -> bool {
        self.storage.event_filter().wants(EventKind::MessageOffline)
    }

    /// Queues the events of `message` for `users` (no live connection); waits while the
    /// worker is `QUEUE` messages behind.
    pub(crate) async fn note(&self, message: StoredMessage, users: Vec<UserId>) {
        if users.is_empty() {
            return;
        }
        let job = Job::Offline { message, users };
        if self.sender().send(job).await.is_err() {
            warn!("message.offline: the worker stopped");
        }
    }
}

/// `user.online` / `user.offline` (`kind`): the user and the node, keyed by the user.
pub fn user_presence(kind: EventKind, user: UserId, node_id: u16, at_ms: i64) -> NewEvent {
    NewEvent {
        kind,
        key: format!("u:{user}"),
        data: json!({"user_id": user.to_string(), "node_id": node_id}).to_string(),
        created_ms: at_ms,
    }
}

/// Builds and appends the events of each job, one append per job.
async fn work(storage: Arc<dyn Storage>, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.recv().await {
        let (message, users) = match job {
            Job::Event(event) => {
                if let Err(e) = storage.append_events(vec![event]).await {
                    warn!(error = %e, "cannot write a presence event");
                }
                continue;
            }
            Job::Offline { message, users } => (message, users),
        };
        let conv = message.conversation();
        let mut events = Vec::with_capacity(users.len());
        for &user in &users {
            let devices = match storage.devices(user).await {
                Ok(d) => d,
                Err(e) => {
                    warn!(error = %e, user, "message.offline: cannot read the devices");
                    Vec::new()
                }
            };
            // A change of nothing answers the settings as they are.
            let muted = match storage
                .set_conversation_settings(user, conv, SettingsChange::default())
                .await
            {
                Ok(s) => s.is_some_and(|s| s.muted),
                Err(e) => {
                    warn!(error = %e, user, "message.offline: cannot read the mute setting");
                    false
                }
            };
            events.push(message_offline(&message, user, &devices, muted));
        }
        if let Err(e) = storage.append_events(events).await {
            warn!(error = %e, id = %message.id, "message.offline: cannot write the events");
        }
    }
}
