//! [`CommitPipeline`]: for a storage on a networked database, the message batches of every
//! connection of a node gathered into few transactions.
//!
//! Each connection hands its batch to [`CommitPipeline::store`] and waits for the outcomes
//! (the engine keeps one batch of a connection in flight at a time, so a connection's messages
//! keep their order). On a database server most of a batch's cost is per transaction and per
//! statement (round trips, a commit that waits for the log flush, the locks), not per message:
//! so at most [`CommitPipeline::in_flight`] transactions run at once, and the batches that
//! arrive meanwhile queue and go together in the next free one, up to [`MAX_MESSAGES`]
//! messages. An idle node stores a lone batch at once; a busy one stores ever larger ones.
//! What one transaction does is the storage's: a [`BatchCommit`], which stores the batches
//! exactly as their messages one after the other; a failure fails every batch in it and
//! stores none of them.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::error::{Result, StorageError};
use crate::events::{EventFilter, EventKind};
use crate::types::{NewMessage, StoreOutcome};

/// The most messages one transaction gathers (a batch is never split: the last one taken may
/// go past it by its own size).
pub const MAX_MESSAGES: usize = 2048;

/// How many batches may wait for a transaction; past it, [`CommitPipeline::store`] waits.
const QUEUE: usize = 4096;

/// The kinds of event a stored message may be reported by.
const MESSAGE_EVENTS: [EventKind; 3] = [
    EventKind::MessageCreated,
    EventKind::MessageRecalled,
    EventKind::MessageEdited,
];

/// What a storage does in one transaction of a [`CommitPipeline`].
#[async_trait]
pub trait BatchCommit: Send + Sync + 'static {
    /// Stores `msgs` in one transaction, each exactly as
    /// [`crate::MessageStore::store_message`] would, one after the other, with the outbox
    /// events of the kinds in `events` (of `message.created`, `.recalled`, `.edited`: those the
    /// webhooks want) of the messages stored; one outcome per message, in order. On an error
    /// nothing is stored.
    async fn commit(
        &self,
        msgs: Vec<NewMessage>,
        events: &[EventKind],
    ) -> Result<Vec<StoreOutcome>>;
}

/// One connection's batch and where its outcomes go.
struct Job {
    msgs: Vec<NewMessage>,
    reply: oneshot::Sender<Result<Vec<StoreOutcome>>>,
}

/// A node's commit pipeline; see the [module docs](self).
#[derive(Debug)]
pub struct CommitPipeline {
    jobs: mpsc::Sender<Job>,
    in_flight: usize,
    name: &'static str,
}

impl CommitPipeline {
    /// Starts the pipeline's task on the current tokio runtime, with at most `in_flight`
    /// transactions at once (at least 1), each one call of `committer`. `events` says which
    /// message events the transactions also write; `name` (the database's) is for the logs and
    /// errors. The task ends when the pipeline is dropped and the queued batches are stored.
    pub fn start(
        name: &'static str,
        committer: Arc<dyn BatchCommit>,
        in_flight: usize,
        events: Arc<EventFilter>,
    ) -> CommitPipeline {
        let in_flight = in_flight.max(1);
        let (jobs, rx) = mpsc::channel(QUEUE);
        let slots = Arc::new(Semaphore::new(in_flight));
        tokio::spawn(dispatch(name, committer, rx, slots, events));
        CommitPipeline {
            jobs,
            in_flight,
            name,
        }
    }

    /// How many transactions may run at once.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Stores `msgs` (in one transaction with whatever other batches are waiting) and returns
    /// one outcome per message, in order: a storage's [`crate::MessageStore::store_messages`].
    pub async fn store(&self, msgs: Vec<NewMessage>) -> Result<Vec<StoreOutcome>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, outcome) = oneshot::channel();
        let name = self.name;
        self.jobs.send(Job { msgs, reply }).await.map_err(|_| {
            StorageError::unavailable_msg(format!("the {name} commit pipeline stopped"))
        })?;
        outcome.await.map_err(|_| {
            StorageError::unavailable_msg(format!("the {name} commit pipeline dropped a batch"))
        })?
    }

    /// [`CommitPipeline::store`] of one message: a storage's
    /// [`crate::MessageStore::store_message`].
    pub async fn store_one(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let name = self.name;
        self.store(vec![msg]).await?.pop().ok_or_else(|| {
            StorageError::unavailable_msg(format!("{name} returned no outcome for the message"))
        })
    }
}

/// Takes a transaction slot, then every batch waiting (at least one), and stores them in a
/// task of their own; again until the pipeline is dropped.
async fn dispatch(
    name: &'static str,
    committer: Arc<dyn BatchCommit>,
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
        let kinds: Vec<EventKind> = MESSAGE_EVENTS
            .into_iter()
            .filter(|k| events.wants(*k))
            .collect();
        tokio::spawn(commit(name, committer.clone(), jobs, n, kinds, permit));
    }
}

/// Stores `jobs` (`n` messages in all) in one transaction and answers each.
async fn commit(
    name: &'static str,
    committer: Arc<dyn BatchCommit>,
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
    tracing::trace!(batches = sizes.len(), messages = n, "{name}: storing");
    match committer.commit(all, &kinds).await {
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
                    "{name} returned {} outcomes for {n} messages",
                    outcomes.len()
                )),
                Err(e) => e,
            };
            let why = error.to_string();
            tracing::warn!(error = %why, messages = n, "{name}: a transaction of batches failed");
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

#[cfg(test)]
mod tests {
    use super::*;
    use easyim_proto::ChatType;
    use std::sync::Mutex;

    /// Records each transaction's size; fails a transaction holding a message `fail`.
    #[derive(Default)]
    struct Recorder {
        sizes: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl BatchCommit for Recorder {
        async fn commit(
            &self,
            msgs: Vec<NewMessage>,
            _: &[EventKind],
        ) -> Result<Vec<StoreOutcome>> {
            self.sizes.lock().unwrap().push(msgs.len());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if msgs.iter().any(|m| m.id == "fail") {
                return Err(StorageError::unavailable_msg("refused"));
            }
            Ok(msgs.iter().map(|_| StoreOutcome::NoUser).collect())
        }
    }

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            id: id.into(),
            from: 1,
            to: 2,
            chat_type: ChatType::Single,
            msg_type: 0,
            content: String::new(),
            timestamp: 0,
            ref_id: String::new(),
        }
    }

    #[tokio::test]
    async fn waiting_batches_share_a_transaction_and_a_failure_fails_them_all() {
        let rec = Arc::new(Recorder::default());
        let p = Arc::new(CommitPipeline::start(
            "test",
            rec.clone(),
            1,
            Arc::new(EventFilter::default()),
        ));
        // The first takes the one slot; the next three queue meanwhile and go together.
        let first = tokio::spawn({
            let p = p.clone();
            async move { p.store(vec![msg("a")]).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let rest: Vec<_> = ["b", "c", "fail"]
            .into_iter()
            .map(|id| {
                let p = p.clone();
                tokio::spawn(async move { p.store(vec![msg(id), msg("x")]).await })
            })
            .collect();
        assert_eq!(first.await.unwrap().unwrap(), vec![StoreOutcome::NoUser]);
        for r in rest {
            let err = r.await.unwrap().unwrap_err();
            assert!(err.to_string().contains("refused"), "{err}");
        }
        assert_eq!(*rec.sizes.lock().unwrap(), vec![1, 6]);
    }
}
