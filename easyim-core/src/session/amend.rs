//! RECALL and EDIT frames (protocol.md section 4, "Recall and edit"): checked against their
//! target and the rules of [`crate::recall`], then stored, acked and delivered like a chat
//! message.

use easyim_proto::{ChatType, ErrorCode, Msg};
use tracing::warn;

use super::chat::{Refusal, MAX_ID_LEN};
use super::Session;
use crate::ids::now_ms;
use crate::recall::{self, Amend};
use crate::roles::Role;
use crate::types::{Conversation, NewMessage};

impl Session {
    /// Handles one RECALL or EDIT frame.
    pub(super) async fn amend(&self, msg: Msg, amend: Amend) {
        let new = self.check_amend(&msg, amend).await;
        self.commit(vec![(msg, new)]).await;
    }

    /// The checks of a RECALL or EDIT; on success, the frame to store.
    async fn check_amend(&self, msg: &Msg, amend: Amend) -> Result<NewMessage, Refusal> {
        let Ok(chat_type) = ChatType::try_from(msg.chat_type) else {
            return Err((ErrorCode::BadMsg, "unknown chat_type"));
        };
        if msg.id.len() > MAX_ID_LEN || msg.ref_id.len() > MAX_ID_LEN {
            return Err((ErrorCode::BadMsg, "id or ref_id longer than 128 bytes"));
        }
        if msg.ref_id.is_empty() {
            return Err((ErrorCode::BadMsg, "ref_id names no message"));
        }
        if amend == Amend::Edit && msg.content.is_empty() {
            return Err((ErrorCode::BadMsg, "empty content"));
        }
        let Ok(to) = msg.to_user_id.parse::<u64>() else {
            return Err(match chat_type {
                ChatType::Single => (ErrorCode::NoUser, "no such user"),
                ChatType::Group => (ErrorCode::NoGroup, "no such group"),
            });
        };
        if chat_type == ChatType::Single && to == self.user {
            return Err((ErrorCode::BadMsg, "a message to oneself"));
        }
        let conv = Conversation::of(chat_type, self.user, to);
        let new = NewMessage {
            id: if msg.id.is_empty() {
                self.node.ids.next_id().to_string()
            } else {
                msg.id.clone()
            },
            from: self.user,
            to,
            chat_type,
            msg_type: msg.msg_type,
            content: match amend {
                Amend::Recall => String::new(),
                Amend::Edit => msg.content.clone(),
            },
            timestamp: now_ms() as i64,
            ref_id: msg.ref_id.clone(),
        };
        let storage = &self.node.storage;
        let failed = |e: crate::StorageError| {
            warn!(error = %e, user = self.user, conn = self.handle.id, "could not read a message");
            (
                ErrorCode::Internal,
                "storage failed; nothing was stored, resend it",
            )
        };
        // A resend of a stored frame is answered by storage (the same ack), not checked again.
        if !msg.id.is_empty()
            && storage
                .message(conv, &msg.id)
                .await
                .map_err(failed)?
                .is_some()
        {
            return Ok(new);
        }
        // In a group: members only (E_NO_GROUP / E_NOT_MEMBER before anything about the
        // target is said); the owner and admins are moderators.
        let moderator = match (chat_type, &self.node.moderation) {
            (ChatType::Group, Some(moderation)) => {
                match moderation
                    .member_state(to, self.user)
                    .await
                    .map_err(failed)?
                {
                    Some(s) => matches!(s.role, Role::Owner | Role::Admin),
                    None if moderation
                        .group_settings(to)
                        .await
                        .map_err(failed)?
                        .is_none() =>
                    {
                        return Err((ErrorCode::NoGroup, "no such group"));
                    }
                    None => return Err((ErrorCode::NotMember, "not a member of this group")),
                }
            }
            _ => false,
        };
        let Some(target) = storage.message(conv, &msg.ref_id).await.map_err(failed)? else {
            return Err((ErrorCode::NoMsg, "no such message in this conversation"));
        };
        let windows = self.node.config.amend;
        recall::check(amend, self.user, &target, moderator, windows, new.timestamp)
            .map_err(|r| (ErrorCode::Forbidden, r.text()))?;
        Ok(new)
    }
}
