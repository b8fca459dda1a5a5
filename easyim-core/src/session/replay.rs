//! The login replay (protocol.md section 4): every pending message, oldest first, before any
//! live frame.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_proto::{frames, Encoded, ErrorCode};
use tracing::{instrument, warn};

use super::Session;
use crate::error::StorageError;
use crate::hub::Kick;
use crate::types::{Conversation, PendingMessage};

/// How many pending messages are read from storage per step of the login replay.
const REPLAY_PAGE: usize = 256;
/// How long a closing error waits for room in a full queue during the login replay.
const LAST_WORD_WAIT: Duration = Duration::from_secs(2);

impl Session {
    /// Pushes every pending message, oldest first, then lets live deliveries through. Returns
    /// false if the connection must close.
    pub(super) async fn replay(&self) -> bool {
        let mut replayed: HashMap<Conversation, u64> = HashMap::new();
        let mut after = 0;
        loop {
            let page = match self.pending_page(after).await {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %e, user = self.user, conn = self.handle.id, "could not read pending messages");
                    self.last_word(ErrorCode::Internal, "storage is unavailable, try again")
                        .await;
                    return false;
                }
            };
            let n = page.len();
            for p in page {
                after = p.order;
                let seq = replayed.entry(p.message.conversation()).or_default();
                *seq = (*seq).max(p.message.conv_seq);
                if !self
                    .replay_one(Arc::new(Encoded::new(p.message.to_msg())))
                    .await
                {
                    return false;
                }
            }
            if n < REPLAY_PAGE {
                break;
            }
        }
        self.handle.finish_replay(replayed);
        true
    }

    /// One storage step of the replay: the pending messages after position `after`.
    #[instrument(level = "debug", skip(self))]
    async fn pending_page(&self, after: u64) -> Result<Vec<PendingMessage>, StorageError> {
        let node = &self.node;
        let t0 = Instant::now();
        let page = node.storage.pending(self.user, after, REPLAY_PAGE).await;
        node.metrics.observe_storage(t0.elapsed());
        page
    }

    /// Queues one pending message, waiting for room (the peer is reading its backlog) unless
    /// the connection is kicked or the engine stops meanwhile; false if it must close.
    async fn replay_one(&self, frame: Arc<Encoded>) -> bool {
        let node = &self.node;
        let sent = tokio::select! {
            biased;
            _ = self.handle.kicked() => false,
            _ = node.shutdown.cancelled() => false,
            r = self.handle.out().send_waiting(frame) => r,
        };
        if !sent {
            if self.handle.reason() == Some(Kick::Revoked) {
                let text = "the user's tokens were revoked";
                self.last_word(ErrorCode::AuthRevoked, text).await;
            } else if node.shutdown.is_cancelled() {
                self.last_word(ErrorCode::Shutdown, "the server is stopping")
                    .await;
            }
            return false;
        }
        node.metrics.pending_pushed.fetch_add(1, Relaxed);
        true
    }

    /// Queues a closing error during the replay, when live frames are still held back.
    async fn last_word(&self, code: ErrorCode, text: &str) {
        self.node.metrics.errors.fetch_add(1, Relaxed);
        let m = frames::error(code, text, &self.user_str, "", 0);
        self.handle.out().last_word(m, LAST_WORD_WAIT).await;
    }
}
