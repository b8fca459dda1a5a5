//! Read positions: [`ReadAt`], [`ReadOutcome`], [`ReadState`], and [`mark_read`], the one
//! path that moves a user's read position for both the socket's READ receipts and the
//! conversations service, forwards the receipt to the message's sender and syncs the new
//! position to the reader's other connections.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{frames, Encoded, Msg, MsgStatus};

use crate::ids::now_ms;
use crate::node::Node;
use crate::summary::peer_of;
use crate::types::{Conversation, StoredMessage, UserId};
use crate::Result;

/// How far a READ receipt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAt {
    /// Up to this message (a receipt over the socket names one). The reader must be one of
    /// its recipients.
    Id(String),
    /// Up to this `conv_seq` (0 reads nothing).
    Seq(u64),
    /// Up to the conversation's last message.
    Last,
}

/// What recording a read position found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Recorded (or already there: `read_seq == previous`).
    Read(ReadState),
    /// [`ReadAt::Id`]: no such message in the conversation, or the reader is not one of its
    /// recipients; [`ReadAt::Seq`] / [`ReadAt::Last`]: the reader has no place in the
    /// conversation (not a member of the group). Nothing recorded.
    NoMessage,
    /// [`ReadAt::Seq`] above the conversation's last `conv_seq` (carried). Nothing recorded.
    BeyondLast(u64),
}

/// A reader's position in a conversation after a READ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadState {
    /// The read position before.
    pub previous: u64,
    /// The read position now: never below `previous`.
    pub read_seq: u64,
    /// The conversation's last `conv_seq`.
    pub last_seq: u64,
    /// The `conv_seq` of the reader's own newest message in it.
    pub own_seq: u64,
    /// The message at the position asked for (`None` for position 0).
    pub message: Option<StoredMessage>,
}

impl ReadState {
    /// The reader's unread messages now, as [`crate::ConversationSummary::unread`] counts
    /// them.
    pub fn unread(&self) -> u64 {
        self.last_seq
            .saturating_sub(self.read_seq.max(self.own_seq))
    }

    /// Whether the read position moved forward.
    pub fn moved(&self) -> bool {
        self.read_seq > self.previous
    }
}

/// Records `reader`'s READ in `conv` at `at`; on success forwards the READ receipt to the
/// sender of the message read (if that is someone else) and, if the position moved, syncs it
/// to every connection of the reader but `conn` (the one that read, if any), on every node.
pub(crate) async fn mark_read(
    node: &Node,
    reader: UserId,
    conv: Conversation,
    at: ReadAt,
    conn: Option<u64>,
) -> Result<ReadOutcome> {
    let t0 = Instant::now();
    let r = node.storage.record_read(reader, conv, at).await;
    node.metrics.observe_storage(t0.elapsed());
    let outcome = r?;
    let ReadOutcome::Read(state) = &outcome else {
        return Ok(outcome);
    };
    let Some(message) = &state.message else {
        return Ok(outcome);
    };
    let reader_str = reader.to_string();
    if message.from != reader {
        node.metrics.receipts.fetch_add(1, Relaxed);
        let fwd = frames::receipt(
            &message.id,
            MsgStatus::Read,
            &reader_str,
            &message.from.to_string(),
            conv.chat_type(),
            message.msg_type,
            now_ms() as i64,
        );
        node.router.deliver(
            vec![message.from],
            &Arc::new(Encoded::new(fwd)),
            None,
            None,
            true,
        );
    }
    if state.moved() {
        let sync = Msg {
            conv_seq: state.read_seq,
            ..frames::receipt(
                &message.id,
                MsgStatus::Read,
                &reader_str,
                &peer_of(conv, reader).to_string(),
                conv.chat_type(),
                message.msg_type,
                now_ms() as i64,
            )
        };
        node.router.deliver(
            vec![reader],
            &Arc::new(Encoded::new(sync)),
            None,
            conn,
            true,
        );
    }
    Ok(outcome)
}
