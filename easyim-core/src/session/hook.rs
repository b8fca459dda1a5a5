//! The before-send hook on a batch of chat messages: asked about every message that passed
//! the other checks, all at once, its answers applied in the order sent.

use std::borrow::Cow;

use easyim_proto::{ErrorCode, Msg};
use futures::future::join_all;

use super::Session;
use crate::hook::Verdict;
use crate::types::NewMessage;

/// A message of a batch after the checks: the message to store, or why not.
pub(super) type Checked = (Msg, Result<NewMessage, (ErrorCode, Cow<'static, str>)>);

impl Session {
    /// Applies the node's before-send hook (if any) to `checked`, keeping the order.
    pub(super) async fn before_send(&self, checked: Vec<Checked>) -> Vec<Checked> {
        let Some(hook) = self.node.before_send.get() else {
            return checked;
        };
        let verdicts = join_all(checked.iter().map(|(_, c)| async move {
            match c {
                Ok(new) => Some(hook.check(new).await),
                Err(_) => None,
            }
        }))
        .await;
        checked
            .into_iter()
            .zip(verdicts)
            .map(|((msg, c), verdict)| match (c, verdict) {
                (Ok(mut new), Some(Verdict::Replace(content))) => {
                    new.content = content;
                    (msg, Ok(new))
                }
                (Ok(_), Some(Verdict::Refuse(reason))) => {
                    (msg, Err((ErrorCode::Forbidden, Cow::Owned(reason))))
                }
                (c, _) => (msg, c),
            })
            .collect()
    }
}
