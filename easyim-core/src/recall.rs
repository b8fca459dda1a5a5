//! Recall and edit (protocol.md section 4, "Recall and edit"): which frames they are, who may
//! send them, and what they do to the message they name.
//!
//! The frame itself is stored like a chat message (its own `conv_seq`, acked after commit,
//! pending for offline members); storage applies it to its target in the same commit with
//! [`apply`] (or the same rule in SQL), so every reader of the target's row sees its state.

use easyim_proto::MsgType;

use crate::types::{NewMessage, StoredMessage, UserId};

/// What a RECALL or EDIT frame does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amend {
    /// RECALL (6): the target's content is emptied and it is marked recalled.
    Recall,
    /// EDIT (7): the target's content becomes the EDIT's, and it is marked edited.
    Edit,
}

impl Amend {
    /// The amendment a message type number stands for, if any.
    pub fn of(msg_type: i32) -> Option<Amend> {
        match MsgType::try_from(msg_type) {
            Ok(MsgType::Recall) => Some(Amend::Recall),
            Ok(MsgType::Edit) => Some(Amend::Edit),
            _ => None,
        }
    }
}

/// The time limits on recall and edit, in seconds (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmendWindows {
    /// `RECALL_WINDOW`: how long after sending its sender may recall a message.
    pub recall_secs: u64,
    /// `EDIT_WINDOW`: how long after sending its sender may edit a message.
    pub edit_secs: u64,
}

impl Default for AmendWindows {
    fn default() -> Self {
        AmendWindows {
            recall_secs: 120,
            edit_secs: 86_400,
        }
    }
}

/// Why an amendment is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The target is recalled already (nothing more may be done to it).
    Recalled,
    /// The actor is neither the sender nor allowed to moderate the group.
    NotAllowed,
    /// The sender's window has passed.
    TooLate,
    /// The target is not a chat message (TEXT, IMAGE, VOICE, VIDEO): a RECALL, an EDIT, or a
    /// group event.
    NotAMessage,
}

impl Refused {
    /// The text of the error frame.
    pub fn text(self) -> &'static str {
        match self {
            Refused::Recalled => "the message was recalled",
            Refused::NotAllowed => "only its sender may do this to the message",
            Refused::TooLate => "too late to do this to the message",
            Refused::NotAMessage => "the target is not a chat message",
        }
    }
}

/// Checks that `actor` may apply `amend` to `target` at `now_ms`. `moderator` says whether
/// `actor` is the owner or an admin of the target's group (always `false` in a 1:1
/// conversation): a moderator may recall any message of the group at any time.
pub fn check(
    amend: Amend,
    actor: UserId,
    target: &StoredMessage,
    moderator: bool,
    windows: AmendWindows,
    now_ms: i64,
) -> Result<(), Refused> {
    if !matches!(
        MsgType::try_from(target.msg_type),
        Ok(MsgType::Text | MsgType::Image | MsgType::Voice | MsgType::Video)
    ) {
        return Err(Refused::NotAMessage);
    }
    if target.recalled {
        return Err(Refused::Recalled);
    }
    if amend == Amend::Recall && moderator {
        return Ok(());
    }
    if target.from != actor {
        return Err(Refused::NotAllowed);
    }
    let window = match amend {
        Amend::Recall => windows.recall_secs,
        Amend::Edit => windows.edit_secs,
    };
    let age_ms = now_ms.saturating_sub(target.timestamp);
    if window != 0 && age_ms > (window as i64).saturating_mul(1000) {
        return Err(Refused::TooLate);
    }
    Ok(())
}

/// Applies a stored RECALL or EDIT (`by`) to its target, as every storage does in the commit
/// that stores `by`: a recall empties the content and marks it recalled; an edit of a message
/// that is not recalled replaces the content and sets `edited_at` to the edit's timestamp.
/// Anything else changes nothing.
pub fn apply(target: &mut StoredMessage, by: &NewMessage) {
    match Amend::of(by.msg_type) {
        Some(Amend::Recall) => {
            target.recalled = true;
            target.content.clear();
        }
        Some(Amend::Edit) if !target.recalled => {
            target.content.clone_from(&by.content);
            target.edited_at = by.timestamp;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use easyim_proto::ChatType;

    use super::*;

    fn target(from: UserId, ts: i64) -> StoredMessage {
        StoredMessage {
            id: "t".into(),
            conv_seq: 1,
            from,
            to: 2,
            chat_type: ChatType::Group,
            msg_type: 0,
            content: "hello".into(),
            timestamp: ts,
            ref_id: String::new(),
            recalled: false,
            edited_at: 0,
        }
    }

    #[test]
    fn sender_within_window_owner_any_time_others_never() {
        let w = AmendWindows::default();
        let t = target(1, 0);
        assert_eq!(check(Amend::Recall, 1, &t, false, w, 120_000), Ok(()));
        let late = check(Amend::Recall, 1, &t, false, w, 120_001);
        assert_eq!(late, Err(Refused::TooLate));
        assert_eq!(check(Amend::Recall, 9, &t, true, w, i64::MAX), Ok(()));
        let other = check(Amend::Recall, 3, &t, false, w, 1);
        assert_eq!(other, Err(Refused::NotAllowed));
        // The owner may recall, not edit, another's message.
        assert_eq!(
            check(Amend::Edit, 9, &t, true, w, 1),
            Err(Refused::NotAllowed)
        );
        assert_eq!(check(Amend::Edit, 1, &t, false, w, 86_400_000), Ok(()));
        let unlimited = AmendWindows {
            recall_secs: 0,
            edit_secs: 0,
        };
        assert_eq!(
            check(Amend::Edit, 1, &t, false, unlimited, i64::MAX),
            Ok(())
        );
    }

    #[test]
    fn recalled_is_final_and_frames_are_not_targets() {
        let w = AmendWindows::default();
        let mut t = target(1, 0);
        t.recalled = true;
        assert_eq!(
            check(Amend::Recall, 1, &t, false, w, 1),
            Err(Refused::Recalled)
        );
        assert_eq!(
            check(Amend::Edit, 1, &t, false, w, 1),
            Err(Refused::Recalled)
        );
        for kind in [MsgType::Edit, MsgType::Recall, MsgType::Notify] {
            let mut f = target(1, 0);
            f.msg_type = kind as i32;
            assert_eq!(
                check(Amend::Recall, 1, &f, true, w, 1),
                Err(Refused::NotAMessage),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn apply_recall_then_edit_keeps_it_recalled() {
        let mut t = target(1, 0);
        let edit = NewMessage {
            id: "e".into(),
            from: 1,
            to: 2,
            chat_type: ChatType::Group,
            msg_type: MsgType::Edit as i32,
            content: "fixed".into(),
            timestamp: 5,
            ref_id: "t".into(),
        };
        apply(&mut t, &edit);
        assert_eq!((t.content.as_str(), t.edited_at), ("fixed", 5));
        let recall = NewMessage {
            msg_type: MsgType::Recall as i32,
            content: String::new(),
            ..edit.clone()
        };
        apply(&mut t, &recall);
        apply(&mut t, &edit);
        assert!(t.recalled);
        assert_eq!(t.content, "");
    }
}
