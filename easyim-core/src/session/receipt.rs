//! Receipts (protocol.md section 5): a reader says a message arrived or was read; the
//! receipt is recorded and forwarded to the sender's connections. A READ goes through
//! [`crate::read::mark_read`], which also syncs the new read position to the reader's other
//! connections.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{frames, ChatType, Encoded, ErrorCode, Msg};
use tracing::{instrument, warn};

use super::Session;
use crate::ids::now_ms;
use crate::read::{mark_read, ReadAt, ReadOutcome};
use crate::types::{Conversation, Receipt};

impl Session {
    /// Records a receipt for `msg` and forwards it to the original sender, on every node.
    #[instrument(level = "debug", skip_all, fields(id = %msg.id))]
    pub(super) async fn receipt(&self, msg: Msg, receipt: Receipt) {
        let node = &self.node;
        let chat_type = ChatType::try_from(msg.chat_type).unwrap_or(ChatType::Single);
        let (Ok(to), false) = (msg.to_user_id.parse::<u64>(), msg.id.is_empty()) else {
            return self.error(ErrorCode::NoMsg, "no such message", &msg);
        };
        let conv = Conversation::of(chat_type, self.user, to);
        if receipt == Receipt::Read {
            let at = ReadAt::Id(msg.id.clone());
            return match mark_read(node, self.user, conv, at, Some(self.handle.id)).await {
                Err(e) => {
                    warn!(error = %e, user = self.user, conn = self.handle.id, "could not record a read receipt");
                    self.error(
                        ErrorCode::Internal,
                        "storage failed; the receipt was not recorded",
                        &msg,
                    );
                }
                Ok(ReadOutcome::Read(_)) => {}
                Ok(_) => self.error(ErrorCode::NoMsg, "no such message for this reader", &msg),
            };
        }
        let t0 = Instant::now();
        let r = node
            .storage
            .record_receipt(self.user, conv, &msg.id, receipt)
            .await;
        node.metrics.observe_storage(t0.elapsed());
        match r {
            Err(e) => {
                warn!(error = %e, user = self.user, conn = self.handle.id, "could not record a receipt");
                self.error(
                    ErrorCode::Internal,
                    "storage failed; the receipt was not recorded",
                    &msg,
                );
            }
            Ok(None) => self.error(ErrorCode::NoMsg, "no such message for this reader", &msg),
            Ok(Some(original)) => {
                node.metrics.receipts.fetch_add(1, Relaxed);
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
                node.router
                    .deliver(vec![original.from], &frame, None, None, true);
            }
        }
    }
}
