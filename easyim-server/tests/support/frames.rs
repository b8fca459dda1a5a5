//! The frames tests send and the checks of what comes back: typed [`Msg`] builders for the
//! tests that speak every transport, and JSON [`Value`] builders for those that speak JSON
//! lines to the binary.

use easyim_proto::{ChatType, Encoded, Format, Msg, MsgStatus, MsgType};
use serde_json::{json, Value};

use super::User;

// ---- typed messages --------------------------------------------------------------------

/// The login frame of `u`.
pub fn login_msg(u: &User) -> Msg {
    Msg {
        msg_type: MsgType::Event as i32,
        to_user_id: "KEEP_ALIVE".into(),
        from_user_id: u.id.clone(),
        access_token: u.token.clone(),
        content: "127.0.0.1".into(),
        id: "login".into(),
        seq: 1,
        ..Default::default()
    }
}

/// A heartbeat from `u`.
pub fn heartbeat(u: &User, seq: u32) -> Msg {
    Msg {
        access_token: String::new(),
        id: format!("hb-{seq}"),
        seq,
        ..login_msg(u)
    }
}

/// A text message.
pub fn text(from: &User, to: &str, chat: ChatType, id: &str, seq: u32, content: &str) -> Msg {
    Msg {
        id: id.into(),
        seq,
        from_user_id: from.id.clone(),
        to_user_id: to.into(),
        chat_type: chat as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        content: content.into(),
        ..Default::default()
    }
}

/// A receipt from `reader` for message `id` of the conversation with `to`.
pub fn receipt(reader: &User, to: &str, chat: ChatType, id: &str, status: MsgStatus) -> Msg {
    Msg {
        id: id.into(),
        from_user_id: reader.id.clone(),
        to_user_id: to.into(),
        chat_type: chat as i32,
        status: status as i32,
        ..Default::default()
    }
}

/// Asserts `m` is a NOTIFY error with `code`, copying the offending frame's `id` and `seq`.
pub fn assert_error(m: &Msg, code: &str, id: &str, seq: u32) {
    assert_eq!(m.msg_type, MsgType::Notify as i32, "{m:?}");
    assert_eq!(m.from_user_id, "notify", "{m:?}");
    assert!(
        m.content.starts_with(&format!("{code}:")),
        "expected {code}, got {m:?}"
    );
    assert_eq!((m.id.as_str(), m.seq), (id, seq), "{m:?}");
}

/// Asserts `m` is the login / heartbeat SUCCESS frame for `u`.
pub fn assert_success(m: &Msg, u: &User) {
    assert_eq!(m.msg_type, MsgType::Event as i32, "{m:?}");
    assert_eq!(m.from_user_id, "KEEP_ALIVE", "{m:?}");
    assert_eq!(m.to_user_id, u.id, "{m:?}");
    assert_eq!(m.content, "SUCCESS", "{m:?}");
}

/// `m` as a protobuf payload.
pub fn protobuf(m: &Msg) -> Vec<u8> {
    Encoded::new(m.clone()).payload(Format::Protobuf).to_vec()
}

/// `m` as a JSON payload.
pub fn json_bytes(m: &Msg) -> Vec<u8> {
    serde_json::to_vec(m).unwrap()
}

// ---- JSON values -----------------------------------------------------------------------

/// The login frame of `uid` with `token`, as JSON.
pub fn login_json(uid: u64, token: &str) -> Value {
    json!({"msg_type": 4, "to_user_id": "KEEP_ALIVE", "from_user_id": uid.to_string(), "access_token": token})
}

/// A heartbeat of `uid` whose answer carries the id `tag`, as JSON.
pub fn heartbeat_json(uid: u64, tag: &str) -> Value {
    json!({"msg_type": 4, "to_user_id": "KEEP_ALIVE", "from_user_id": uid.to_string(), "id": tag})
}

/// A text message `id` (its content is its id too), as JSON.
pub fn chat(id: &str, from: u64, to: u64, chat_type: u8) -> Value {
    json!({"id": id, "from_user_id": from.to_string(), "to_user_id": to.to_string(),
           "chat_type": chat_type, "msg_type": 0, "status": 1, "content": id})
}

/// Field `k` of `v` as a number, whether the JSON has a number or a string (0 if neither).
pub fn num(v: &Value, k: &str) -> u64 {
    match &v[k] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Field `k` of `v` as a string ("" if it is not one).
pub fn field(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}
