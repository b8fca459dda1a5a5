//! [`OfflineEvents`]: the `message.offline` events, one per recipient that had no live
//! connection when its message was handed to delivery.
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

use super::{EventKind, NewEvent};
use crate::storage::Storage;
use crate::summary::SettingsChange;
use crate::types::{StoredMessage, UserId};

/// Messages with offline recipients waiting for the worker; past it, the chat path waits.
const QUEUE: usize = 1024;

/// A stored message and its recipients that had no live connection.
#[derive(Debug)]
struct Note {
    message: StoredMessage,
    users: Vec<UserId>,
}

/// The engine's side of `message.offline`: cheap to ask whether it is on, and a bounded queue
/// to a worker started on first use.
pub(crate) struct OfflineEvents {
    storage: Arc<dyn Storage>,
    tx: OnceLock<mpsc::Sender<Note>>,
}

impl std::fmt::Debug for OfflineEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineEvents").finish_non_exhaustive()
    }
}

impl OfflineEvents {
    pub(crate) fn new(storage: Arc<dyn Storage>) -> Self {
        OfflineEvents {
            storage,
            tx: OnceLock::new(),
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
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(work(self.storage.clone(), rx));
            tx
        });
        if tx.send(Note { message, users }).await.is_err() {
            warn!("message.offline: the worker stopped");
        }
    }
}

/// `message.offline` for `user`: the message, its conversation, the user's push `devices`
/// and whether it `muted` the conversation.
pub fn message_offline(
    message: &StoredMessage,
    user: UserId,
    devices: &[crate::types::Device],
    muted: bool,
) -> NewEvent {
    let created = super::message_created(message, &[]);
    let mut data: serde_json::Value =
        serde_json::from_str(&created.data).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = data.as_object_mut() {
        obj.remove("recipients");
        obj.insert("user_id".into(), json!(user.to_string()));
        obj.insert("muted".into(), json!(muted));
        obj.insert(
            "devices".into(),
            json!(devices
                .iter()
                .map(|d| json!({"platform": d.platform, "token": d.token}))
                .collect::<Vec<_>>()),
        );
    }
    NewEvent {
        kind: EventKind::MessageOffline,
        key: created.key,
        data: data.to_string(),
        created_ms: message.timestamp,
    }
}

/// Builds and appends the events of each note, one append per message.
async fn work(storage: Arc<dyn Storage>, mut rx: mpsc::Receiver<Note>) {
    while let Some(note) = rx.recv().await {
        let conv = note.message.conversation();
        let mut events = Vec::with_capacity(note.users.len());
        for &user in &note.users {
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
            events.push(message_offline(&note.message, user, &devices, muted));
        }
        if let Err(e) = storage.append_events(events).await {
            warn!(error = %e, id = %note.message.id, "message.offline: cannot write the events");
        }
    }
}
