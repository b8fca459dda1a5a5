//! [`MessageStore`]: messages, per-member cursors (receipts), pending and history.

use async_trait::async_trait;

use crate::error::Result;
use crate::read::{ReadAt, ReadOutcome};
use crate::types::{
    Conversation, HistoryItem, HistoryPage, NewMessage, PendingMessage, Receipt, StoreOutcome,
    StoredMessage, UserId,
};

/// Where messages and each recipient's cursor live: the one trait the engine (the message path)
/// needs.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Stores a chat message in one atomic step, or explains why not.
    ///
    /// Checks, in this order: SINGLE: the recipient user exists (`NoUser`); GROUP: the group
    /// exists (`NoGroup`) and the sender is a member (`NotMember`), unless the sender is
    /// [`crate::SYSTEM_USER`], which writes to any group (its recipients: every member). Then idempotency on
    /// (conversation, id): if the id is stored in the conversation already, by the same sender
    /// it is `Duplicate` (nothing written), by another `IdTaken`. Otherwise the message gets the
    /// next `conv_seq` of its conversation (1 for the first; gapless and unique even under
    /// concurrent writers, on every node sharing the storage) and becomes pending for each
    /// recipient, all in the same commit. The message's `timestamp` and `ref_id` are stored as
    /// given. A RECALL or EDIT (`msg_type` 6 or 7) newly stored is applied, in the same
    /// commit, to the message of the conversation its `ref_id` names, as
    /// [`crate::recall::apply`] says (no such message: nothing changes; the engine checked).
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome>;

    /// Stores several chat messages in one step, each exactly as [`MessageStore::store_message`]
    /// would, in the order given (so one sender's messages to a conversation get increasing
    /// `conv_seq` in that order), and returns one outcome per message, in the same order.
    /// Each message is atomic on its own; if the call fails, some of the messages may have been
    /// stored, and the caller acks none of them (a resend is idempotent, so nothing is lost or
    /// doubled).
    ///
    /// The engine hands over the messages a connection has sent back to back, so a storage that
    /// can write them in one transaction (one round trip, one commit) should override this; the
    /// default stores them one by one.
    async fn store_messages(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            out.push(self.store_message(m).await?);
        }
        Ok(out)
    }

    /// Records a cumulative receipt: `reader` has the message `id` of `conv` and every earlier
    /// one addressed to it (`Read` implies `Arrived`). The reader's cursor in the conversation
    /// only moves forward. Returns the named message, or `None` (nothing recorded) if it does
    /// not exist in `conv` or `reader` was not one of its recipients (its sender, or not a
    /// member of the group).
    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>>;

    /// Moves `reader`'s read position in `conv` forward to `at` (never back), in one atomic
    /// step, and says where it is now. A READ implies ARRIVED: the delivery cursor moves to the
    /// same place (forward only). [`ReadAt::Id`] needs the message in `conv` with `reader` one
    /// of its recipients, as [`MessageStore::record_receipt`]; [`ReadAt::Seq`] and
    /// [`ReadAt::Last`] need `reader` to have a place in `conv` (either user of a 1:1
    /// conversation, a member of a group), else `NoMessage`; a 1:1 conversation without
    /// messages reads as position 0. [`ReadAt::Seq`] above the last `conv_seq` is
    /// `BeyondLast`. `ReadState::message` is the message at the position asked for.
    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> Result<ReadOutcome>;

    /// Messages pending for `user` (stored for it and not yet covered by an `Arrived` receipt),
    /// whose `order` is above `after`, in increasing `order`, at most `limit`. `order` follows
    /// commit order, so each conversation's messages come in increasing `conv_seq` and the
    /// oldest come first. Start with `after = 0`.
    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>>;

    /// The message `id` of `conv` as stored now (with its recalled/edited state), or `None`.
    async fn message(&self, conv: Conversation, id: &str) -> Result<Option<StoredMessage>>;

    /// Removes the messages `ids` of `conv` from `user`'s own view (delete for me): the
    /// history and conversation preview `user` reads skip them, nobody else's change. Ids
    /// that name no message of `conv`, or one `user` removed already, are ignored. Returns how
    /// many were newly removed.
    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64>;

    /// Which of the positions `seqs` of `conv` `user` removed from its view, ascending.
    async fn hidden_seqs(&self, user: UserId, conv: Conversation, seqs: &[u64])
        -> Result<Vec<u64>>;

    /// Which of `lasts`, positions of several conversations (the newest message of each entry
    /// of a conversation list page), `user` removed from its view: one answer per pair, in
    /// order. The default asks [`MessageStore::hidden_seqs`] once per pair; a backend that can
    /// should answer in one step (a page of the list is then one more round trip, not one per
    /// entry).
    async fn hidden_among(&self, user: UserId, lasts: &[(Conversation, u64)]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(lasts.len());
        for &(conv, seq) in lasts {
            out.push(!self.hidden_seqs(user, conv, &[seq]).await?.is_empty());
        }
        Ok(out)
    }

    /// A page of a conversation's history (the caller has checked who may read it), at most `limit` messages, ordered as [`HistoryPage`] says.
    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>>;
}
