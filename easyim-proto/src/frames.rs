//! Builders for the frames the server sends (protocol.md sections 3, 4 and 6).

use crate::{ChatType, ErrorCode, Msg, MsgStatus, MsgType, KEEP_ALIVE, NOTIFY_SENDER};

/// The answer to a successful login and to every heartbeat:
/// `{"msg_type":4,"from_user_id":"KEEP_ALIVE","to_user_id":"<uid>","content":"SUCCESS"}`,
/// with the `id` and `seq` of the frame it answers.
///
/// Every other field is zero, `status` included: protocol.md section 3 gives no status, and the
/// reference encoding (the `login-success` test vector) has none.
pub fn login_success(user_id: &str, id: &str, seq: u32) -> Msg {
    Msg {
        id: id.to_owned(),
        seq,
        from_user_id: KEEP_ALIVE.to_owned(),
        to_user_id: user_id.to_owned(),
        msg_type: MsgType::Event as i32,
        content: "SUCCESS".to_owned(),
        ..Msg::default()
    }
}

/// The heartbeat reply: the same frame as [`login_success`].
pub fn heartbeat_reply(user_id: &str, id: &str, seq: u32) -> Msg {
    login_success(user_id, id, seq)
}

/// The ack of a stored message: the stored message with `status = SENT`, no token, and the
/// `seq` of the frame being answered.
pub fn ack(stored: &Msg, seq: u32) -> Msg {
    Msg {
        seq,
        status: MsgStatus::Sent as i32,
        access_token: String::new(),
        ..stored.clone()
    }
}

/// An error frame: `msg_type = NOTIFY`, `from_user_id = "notify"`, `to_user_id` the logged-in
/// user (empty before login), `id` and `seq` of the offending frame, and
/// `content = "<CODE>: <text>"`.
pub fn error(code: ErrorCode, text: &str, to_user_id: &str, id: &str, seq: u32) -> Msg {
    Msg {
        id: id.to_owned(),
        seq,
        from_user_id: NOTIFY_SENDER.to_owned(),
        to_user_id: to_user_id.to_owned(),
        msg_type: MsgType::Notify as i32,
        content: format!("{}: {}", code.as_str(), text),
        ..Msg::default()
    }
}

/// A server notice that is not an error (e.g. `FRIEND_REQUEST: <id>`), from `notify`.
pub fn notice(to_user_id: &str, content: String) -> Msg {
    Msg {
        from_user_id: NOTIFY_SENDER.to_owned(),
        to_user_id: to_user_id.to_owned(),
        msg_type: MsgType::Notify as i32,
        status: MsgStatus::Sent as i32,
        content,
        ..Msg::default()
    }
}

/// The receipt forwarded to a message's sender (protocol.md section 4, "Receipts").
pub fn receipt(
    id: &str,
    status: MsgStatus,
    reader: &str,
    sender: &str,
    chat_type: ChatType,
    msg_type: i32,
    timestamp: i64,
) -> Msg {
    Msg {
        id: id.to_owned(),
        status: status as i32,
        from_user_id: reader.to_owned(),
        to_user_id: sender.to_owned(),
        chat_type: chat_type as i32,
        msg_type,
        timestamp,
        ..Msg::default()
    }
}
