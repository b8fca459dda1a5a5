//! The login replay (protocol.md section 4): every pending message, oldest first, before any
//! live frame; and the same refill for a connection that lagged (its queue was full, so live
//! chat frames were skipped and stayed pending).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{Encoded, ErrorCode};
use tracing::{debug, instrument, warn};

use super::Session;
use crate::error::StorageError;
use crate::hub::Kick;
use crate::types::PendingMessage;

/// How many pending messages are read from storage per step of a refill.
const REPLAY_PAGE: usize = 256;

impl Session {
    /// The login replay: pushes every pending message, oldest first, then lets live deliveries
    /// through. Returns false if the connection must close.
    pub(super) async fn replay(&self) -> bool {
        self.refill().await
    }

    /// A lagging connection catches up: once its queue has drained to half, it is refilled
    /// from storage like at login, and goes live again. Returns false if it must close (its
    /// last word queued).
    pub(super) async fn catch_up(&self) -> bool {
        let out = self.handle.out();
        if !out.lagging() {
            return true;
        }
        let stall = self.node.config.stall_timeout();
        let drained = tokio::select! {
            biased;
            _ = self.handle.kicked() => return self.closing().is_some(),
            _ = self.node.shutdown.cancelled() => return self.closing().is_some(),
            r = out.wait_drained(stall) => r,
        };
        if drained.is_none() {
            return self.stalled();
        }
        debug!(
            user = self.user,
            conn = self.handle.id,
            "refilling a lagging connection"
        );
        self.node.metrics.catch_ups.fetch_add(1, Relaxed);
        out.start_refill();
        self.refill().await
    }

    /// The writer took nothing for `STALL_TIMEOUT`: the connection is closed as a slow
    /// consumer (what it did not get stays pending). Always false.
    pub(super) fn stalled(&self) -> bool {
        warn!(
            user = self.user,
            conn = self.handle.id,
            "closing a connection that reads nothing"
        );
        self.handle.kick(Kick::SlowConsumer);
        false
    }

    /// Queues every pending message this connection was not sent yet, oldest first, while
    /// live frames are held; then the held ones, less those already sent. Reads storage again
    /// if live chat frames did not fit in the held ones meanwhile.
    async fn refill(&self) -> bool {
        let out = self.handle.out();
        loop {
            let mut after = 0;
            loop {
                let page = match self.pending_page(after).await {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(error = %e, user = self.user, conn = self.handle.id, "could not read pending messages");
                        self.error_now(ErrorCode::Internal, "storage is unavailable, try again");
                        return false;
                    }
                };
                let n = page.len();
                for p in page {
                    after = p.order;
                    let key = (p.message.conversation(), p.message.conv_seq);
                    if !out.refill_wants(key) {
                        continue;
                    }
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
            if out.finish_refill() {
                return true;
            }
        }
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
        let stall = node.config.stall_timeout();
        let sent = tokio::select! {
            biased;
            _ = self.handle.kicked() => false,
            _ = node.shutdown.cancelled() => false,
            r = self.handle.out().send_refill(frame, stall) => match r {
                None => return self.stalled(),
                // The transport is gone: nobody reads any more.
                Some(false) => return false,
                Some(true) => true,
            }
        };
        if !sent {
            if self.handle.reason() == Some(Kick::Revoked) {
                self.error_now(ErrorCode::AuthRevoked, "the user's tokens were revoked");
            } else if node.shutdown.is_cancelled() {
                self.error_now(ErrorCode::Shutdown, "the server is stopping");
            }
            return false;
        }
        node.metrics.pending_pushed.fetch_add(1, Relaxed);
        true
    }

    /// Queues a closing error (ahead of held live frames; never dropped).
    fn error_now(&self, code: ErrorCode, text: &str) {
        self.error(code, text, &easyim_proto::Msg::default());
    }
}
