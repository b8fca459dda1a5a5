//! [`OutboxStore`]: the durable outbox of webhook events.

use async_trait::async_trait;

use crate::error::Result;
use crate::events::{EventFilter, NewEvent, OutboxEvent, OutboxStats};

/// Where webhook events wait until they are delivered. The stores that report a change
/// ([`crate::MessageStore::store_messages`] for `message.created`) write its event in the same
/// transaction, for the kinds [`OutboxStore::event_filter`] selects; a dispatcher (on any
/// node sharing the storage) claims, delivers and acknowledges them.
///
/// Contracts as for every storage trait (see the module docs), and: event ids are unique and
/// increase in the order events were written; events of one key are claimed in id order, and
/// an event is not claimed while an earlier event of its key is claimed by someone else or
/// waits for a retry, so per key delivery follows the order written.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Which kinds of event this storage writes (none until someone sets it).
    fn event_filter(&self) -> &EventFilter;

    /// Claims up to `limit` events for `lease_ms`: those due (`now_ms` at or past their retry
    /// time), not claimed by someone else whose lease still runs, and with no earlier event
    /// of their key that is not claimable; in id order. A claimed event is not claimed again
    /// until its lease runs out (its claimer died) or [`OutboxStore::retry_events`] frees it.
    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEvent>>;

    /// Deletes delivered events (unknown ids are ignored).
    async fn ack_events(&self, ids: &[u64]) -> Result<()>;

    /// Gives claimed events back for another try at `due_ms`, one more failed attempt each.
    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> Result<()>;

    /// How many events wait, and when the oldest happened.
    async fn outbox_stats(&self) -> Result<OutboxStats>;

    /// Writes events by themselves (those that report no change of storage, or a change
    /// already made). An empty list writes nothing.
    async fn append_events(&self, events: Vec<NewEvent>) -> Result<()>;
}
