//! TYPING frames (protocol.md section 4, "Typing"): ephemeral, forwarded at once to the
//! peer's or the group's other online members, never stored, acked or kept pending; at most
//! one forwarded per second per sender and conversation, the others dropped silently.

use std::sync::Arc;
use std::time::Instant;

use easyim_proto::{ChatType, Encoded, ErrorCode, Msg, MsgStatus, MsgType};
use tracing::warn;

use super::chat::{Refusal, MAX_ID_LEN};
use super::Session;
use crate::error::StorageError;
use crate::ids::now_ms;
use crate::types::{Conversation, Page, UserId};

/// The members of a group read in one storage call while collecting typing recipients.
const MEMBER_PAGE: usize = 500;

impl Session {
    /// Handles one TYPING frame: an error frame if it names nobody it may reach, else
    /// (unless throttled) the frame to the other side's online connections.
    pub(super) async fn typing(&self, msg: Msg) {
        match self.typing_recipients(&msg).await {
            Err((code, text)) => self.error(code, text, &msg),
            Ok(None) => {}
            Ok(Some(users)) if users.is_empty() => {}
            Ok(Some(users)) => {
                let frame = Arc::new(Encoded::new(Msg {
                    id: msg.id,
                    from_user_id: self.user_str.clone(),
                    to_user_id: msg.to_user_id,
                    chat_type: msg.chat_type,
                    msg_type: MsgType::Typing as i32,
                    status: MsgStatus::Sent as i32,
                    timestamp: now_ms() as i64,
                    ..Msg::default()
                }));
                self.node.router.deliver(users, &frame, None, None, true);
            }
        }
    }

    /// Who gets a TYPING: `Ok(None)` when it is dropped silently (throttled, or a group too
    /// large), an error for a frame that names nobody the sender may reach.
    async fn typing_recipients(&self, msg: &Msg) -> Result<Option<Vec<UserId>>, Refusal> {
        let Ok(chat_type) = ChatType::try_from(msg.chat_type) else {
            return Err((ErrorCode::BadMsg, "unknown chat_type"));
        };
        if msg.id.len() > MAX_ID_LEN {
            return Err((ErrorCode::BadMsg, "id longer than 128 bytes"));
        }
        let Ok(to) = msg.to_user_id.parse::<u64>() else {
            return Err(match chat_type {
                ChatType::Single => (ErrorCode::NoUser, "no such user"),
                ChatType::Group => (ErrorCode::NoGroup, "no such group"),
            });
        };
        let failed = |e: StorageError| {
            warn!(error = %e, user = self.user, to, "could not check a typing frame");
            (ErrorCode::Internal, "storage failed; typing not forwarded")
        };
        let directory = self.node.directory.as_ref();
        let conv = Conversation::of(chat_type, self.user, to);
        match chat_type {
            ChatType::Single => {
                if to == self.user {
                    return Err((ErrorCode::BadMsg, "typing to oneself"));
                }
                if let Some(d) = directory {
                    if d.user(to).await.map_err(failed)?.is_none() {
                        return Err((ErrorCode::NoUser, "no such user"));
                    }
                    if d.relation(self.user, to).await.map_err(failed)?.blocked {
                        return Err((ErrorCode::Blocked, "the recipient blocked you"));
                    }
                }
                let allowed = self.node.typing.allow((self.user, conv), Instant::now());
                Ok(allowed.then(|| vec![to]))
            }
            ChatType::Group => {
                // An engine without the directory knows no members: nobody to tell.
                let Some(d) = directory else {
                    return Ok(None);
                };
                let Some(group) = d.group(to).await.map_err(failed)? else {
                    return Err((ErrorCode::NoGroup, "no such group"));
                };
                if !d.is_member(to, self.user).await.map_err(failed)? {
                    return Err((ErrorCode::NotMember, "not a member of this group"));
                }
                if group.member_count > self.node.config.typing_max_group
                    || !self.node.typing.allow((self.user, conv), Instant::now())
                {
                    return Ok(None);
                }
                let mut users = Vec::with_capacity(group.member_count as usize);
                let mut page = Page::first(MEMBER_PAGE);
                loop {
                    let members = d.group_members(to, page).await.map_err(failed)?;
                    let last = members.last().map(|p| p.id);
                    let full = members.len() == MEMBER_PAGE;
                    users.extend(
                        members
                            .into_iter()
                            .map(|p| p.id)
                            .filter(|&u| u != self.user),
                    );
                    match last {
                        Some(after) if full && users.len() as u64 <= group.member_count => {
                            page = Page {
                                after: Some(after),
                                limit: MEMBER_PAGE,
                            };
                        }
                        _ => break,
                    }
                }
                Ok(Some(users))
            }
        }
    }
}
