//! The rules a chat message must pass that need storage but are not part of storing it: a
//! muted member (or any member under a group-wide mute, owner and admins aside) may not send
//! to its group (`E_MUTED`); a user may not send 1:1 to one who blocked it (`E_BLOCKED`), nor,
//! under `DIRECT_MESSAGES=friends`, to one who is not its friend (`E_FORBIDDEN`).
//!
//! The check reads the sender's standing just before the message is stored, in a step of its
//! own: a message that races a mute or a block by a few milliseconds may still go through. It
//! is read once per recipient of a batch ([`Standing`]): the messages of one batch to one peer
//! or group share the answer, so a batch costs a read per recipient, not per message.

use std::sync::atomic::Ordering::Relaxed;

use easyim_proto::{ChatType, ErrorCode};
use tracing::warn;

use super::chat::Refusal;
use super::Session;
use crate::error::StorageError;
use crate::ids::now_ms;
use crate::types::NewMessage;

/// The answers of [`Session::gate`] already read for one batch, by chat type and recipient
/// (at most one per message of the batch).
#[derive(Default)]
pub(super) struct Standing(Vec<(ChatType, u64, Result<(), Refusal>)>);

impl Session {
    /// [`Session::gate`], read once per recipient of the batch that `seen` belongs to.
    pub(super) async fn gate_once(
        &self,
        new: &NewMessage,
        seen: &mut Standing,
    ) -> Result<(), Refusal> {
        let known = seen
            .0
            .iter()
            .find(|(c, to, _)| *c == new.chat_type && *to == new.to);
        if let Some((_, _, answer)) = known {
            return *answer;
        }
        let answer = self.gate(new).await;
        seen.0.push((new.chat_type, new.to, answer));
        answer
    }

    /// Why `new` may not be sent, if it may not. A group or member that does not exist is
    /// left to the storage step, which answers `E_NO_GROUP` / `E_NOT_MEMBER`.
    pub(super) async fn gate(&self, new: &NewMessage) -> Result<(), Refusal> {
        let Some(moderation) = &self.node.moderation else {
            return Ok(());
        };
        if new.chat_type == ChatType::Single {
            return match moderation.relation(new.from, new.to).await {
                Ok(r) if r.blocked => Err((ErrorCode::Blocked, "the recipient blocked you")),
                Ok(r) if !r.friends && self.node.friends_only.load(Relaxed) => Err((
                    ErrorCode::Forbidden,
                    "the recipient takes messages from friends only",
                )),
                Ok(_) => Ok(()),
                Err(e) => Err(self.unavailable(&e, new)),
            };
        }
        match moderation.member_state(new.to, new.from).await {
            Ok(Some(state)) if !state.may_speak(now_ms() as i64) => Err((
                ErrorCode::Muted,
                if state.muted_until > now_ms() as i64 {
                    "you are muted in this group"
                } else {
                    "the group is muted: only its owner and admins may send"
                },
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(self.unavailable(&e, new)),
        }
    }

    fn unavailable(&self, e: &StorageError, new: &NewMessage) -> Refusal {
        warn!(error = %e, user = self.user, to = new.to, "could not read the sender's standing");
        (
            ErrorCode::Internal,
            "storage failed; the message was not stored, resend it",
        )
    }
}
