//! Delete for me ([`crate::MessageStore::hide_messages`]) on the locked [`State`].

use super::State;
use crate::types::{Conversation, UserId};

impl State {
    /// Hides the messages `ids` of `conv` from `user`; how many were newly hidden.
    pub(super) fn hide(&mut self, user: UserId, conv: Conversation, ids: &[String]) -> u64 {
        let seqs: Vec<u64> = self.conversations.get(&conv).map_or_else(Vec::new, |c| {
            ids.iter()
                .filter_map(|id| c.ids.get(id).map(|&at| c.messages[at].message.conv_seq))
                .collect()
        });
        seqs.into_iter()
            .filter(|&s| self.hidden.insert((user, conv, s)))
            .count() as u64
    }

    /// Which of `seqs` of `conv` `user` hid, ascending.
    pub(super) fn hidden_among(&self, user: UserId, conv: Conversation, seqs: &[u64]) -> Vec<u64> {
        let mut out: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|&s| self.hidden.contains(&(user, conv, s)))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
