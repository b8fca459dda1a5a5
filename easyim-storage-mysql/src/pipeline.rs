//! The commit pipeline: the message batches of every connection of this node, gathered into
//! few transactions.
//!
//! Each connection hands its batch to [`Pipeline::store`] and waits for the outcomes (the
//! engine keeps one batch of a connection in flight at a time, so a connection's messages keep
//! their order). Most of a batch's cost is per transaction and per statement (round trips, a
//! commit that waits for the redo log flush, the locks), not per message: so at most
//! [`Pipeline::in_flight`] transactions run at once, and the batches that arrive meanwhile
//! queue and go together in the next free one, up to [`MAX_MESSAGES`] messages. An idle node
//! stores a lone batch at once; a busy one stores ever larger ones. Each transaction stores
//! its batches exactly as their messages one after the other (`batch.rs`); a failure fails
//! every batch in it and stores none of them.

use std::sync::Arc;

use easyim_core::{EventFilter, EventKind, NewMessage, StorageError, StoreOutcome};
use mysql_async::Pool;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::error::{DbError, Result};
use crate::{get_conn, retrying};

/// The most messages one transaction gathers (a batch is never split: the last one taken may
/// go past it by its own size).
pub(crate) const MAX_MESSAGES: usize = 2048;

/// How many batches may wait for a transaction; past it, [`Pipeline::store`] waits.
const QUEUE: usize = 4096;

/// One connection's batch and where its outcomes go.
struct Job {
    msgs: Vec<NewMessage>,
    reply: oneshot::Sender<Result<Vec<StoreOutcome>>>,
}

/// The node's commit pipeline; see the [module docs](self).
pub(crate) struct Pipeline {
    jobs: mpsc::Sender<Job>,
    in_flight: usize,
}

impl Pipeline {
    /// Starts the pipeline's task on the current tokio runtime, with at most `in_flight`
    /// transactions at once (at least 1) on `pool`. It ends when the pipeline is dropped and
    /// the queued batches are stored. `events` says which message events each transaction
    /// also writes.
    pub(crate) fn start(pool: Pool, in_flight: usize, events: Arc<EventFilter>) -> Pipeline {
        let in_flight = in_flight.max(1);
        let (jobs, rx) = mpsc::channel(QUEUE);
        let slots = Arc::new(Semaphore::new(in_flight));
        tokio::spawn(dispatch(pool, rx, slots, events));
        Pipeline { jobs, in_flight }
    }

    /// How many transactions may run at once.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Stores `msgs` (in one transaction with whatever other batches are waiting) and returns
    /// one outcome per message, in order.
    pub(crate) async fn store(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Job { msgs, reply })
            .await
            .map_err(|_| StorageError::unavailable_msg("the MySQL commit pipeline stopped"))?;
        outcome.await.map_err(|_| {
            StorageError::unavailable_msg("the MySQL commit pipeline dropped a batch")
        })?
    }
}

/// Takes a transaction slot, then every batch waiting (at least one), and stores them in a
/// task of their own; again until the pipeline is dropped.
async fn dispatch(
    pool: Pool,
    mut rx: mpsc::Receiver<Job>,
    slots: Arc<Semaphore>,
    events: Arc<EventFilter>,
) {
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut n = first.msgs.len();
        let mut jobs = vec![first];
        while n < MAX_MESSAGES {
            let Ok(job) = rx.try_recv() else { break };
            n += job.msgs.len();
            jobs.push(job);
        }
        let kinds: Vec<EventKind> = [
            EventKind::MessageCreated,
            EventKind::MessageRecalled,
            EventKind::MessageEdited,
        ]
        .into_iter()
        .filter(|k| events.wants(*k))
        .collect();
        tokio::spawn(commit(pool.clone(), jobs, n, kinds, permit));
    }
}

/// Stores `jobs` (`n` messages in all) in one transaction, with the events of `kinds` of the
/// messages stored, and answers each.
async fn commit(
    pool: Pool,
    jobs: Vec<Job>,
    n: usize,
    kinds: Vec<EventKind>,
    _slot: OwnedSemaphorePermit,
) {
    let mut all = Vec::with_capacity(n);
    let mut sizes = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        sizes.push(job.msgs.len());
        all.extend(job.msgs);
        replies.push(job.reply);
    }
    tracing::trace!(batches = sizes.len(), messages = n, "MySQL: storing");
    let wants = |k: EventKind| kinds.contains(&k);
    let stored = retrying(|| async {
        let mut conn = get_conn(&pool).await?;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await?;
        let out = crate::batch::store(&mut tx, &all, &wants).await?;
        tx.commit().await?;
        Ok::<_, DbError>(out)
    })
    .await;
    match stored {
        Ok(outcomes) if outcomes.len() == n => {
            let mut outcomes = outcomes.into_iter();
            for (size, reply) in sizes.into_iter().zip(replies) {
                // A batch whose connection went away is dropped: it is stored all the same.
                let _ = reply.send(Ok(outcomes.by_ref().take(size).collect()));
            }
        }
        other => {
            let error = match other {
                Ok(outcomes) => StorageError::unavailable_msg(format!(
                    "MySQL stored {} outcomes for {n} messages",
                    outcomes.len()
                )),
                Err(e) => StorageError::from(e),
            };
            let why = error.to_string();
            tracing::warn!(error = %why, messages = n, "MySQL: a transaction of batches failed");
            // The first batch gets the error itself (with its source), the others its text.
            let mut error = Some(error);
            for reply in replies {
                let e = error
                    .take()
                    .unwrap_or_else(|| StorageError::unavailable_msg(why.clone()));
                let _ = reply.send(Err(e));
            }
        }
    }
}
