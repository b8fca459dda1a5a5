//! [`BeforeSend`]: a hook asked about every chat message before it is stored.

use async_trait::async_trait;

use crate::types::NewMessage;

/// What a [`BeforeSend`] hook answers about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it as it is.
    Allow,
    /// Do not store it: the sender gets `E_FORBIDDEN` with this reason.
    Refuse(String),
    /// Store it with this content instead (the sender's ack carries it).
    Replace(String),
}

/// Asked about each chat message that passed every other check, just before it is stored.
/// The engine asks about the messages of one batch at once and applies the answers in the
/// order sent, so a connection's messages keep their order. The hook decides what a failure
/// of its own (a timeout, an unreachable service) means: it answers a [`Verdict`] always.
#[async_trait]
pub trait BeforeSend: Send + Sync + 'static {
    /// The verdict on `msg`.
    async fn check(&self, msg: &NewMessage) -> Verdict;
}
