//! Error codes (protocol.md section 6), the server's frame builders, and `Encoded`.

mod common;

use std::sync::Arc;

use easyim_proto::{
    frames, ChatType, CodecError, Encoded, ErrorCode, Format, FormatPolicy, Msg, MsgStatus, MsgType,
};
use prost::Message as _;

const ALL: [ErrorCode; 17] = [
    ErrorCode::FirstMsg,
    ErrorCode::Auth,
    ErrorCode::AuthRevoked,
    ErrorCode::BadFrame,
    ErrorCode::TooLarge,
    ErrorCode::BadMsg,
    ErrorCode::NoUser,
    ErrorCode::NoGroup,
    ErrorCode::NotMember,
    ErrorCode::NoMsg,
    ErrorCode::RateLimit,
    ErrorCode::Idle,
    ErrorCode::Shutdown,
    ErrorCode::Internal,
    ErrorCode::Muted,
    ErrorCode::Blocked,
    ErrorCode::Forbidden,
];

#[test]
fn error_codes_match_the_protocol_table() {
    // (code, wire name, connection closed) from protocol.md section 6. E_AUTH is "closed on
    // login, kept after": closes() answers for the logged-in case, and the session closes a
    // connection whose login failed whatever the code.
    let table = [
        (ErrorCode::FirstMsg, "E_FIRST_MSG", true),
        (ErrorCode::Auth, "E_AUTH", false),
        (ErrorCode::AuthRevoked, "E_AUTH_REVOKED", true),
        (ErrorCode::BadFrame, "E_BAD_FRAME", true),
        (ErrorCode::TooLarge, "E_TOO_LARGE", true),
        (ErrorCode::BadMsg, "E_BAD_MSG", false),
        (ErrorCode::NoUser, "E_NO_USER", false),
        (ErrorCode::NoGroup, "E_NO_GROUP", false),
        (ErrorCode::NotMember, "E_NOT_MEMBER", false),
        (ErrorCode::NoMsg, "E_NO_MSG", false),
        (ErrorCode::RateLimit, "E_RATE_LIMIT", false),
        (ErrorCode::Idle, "E_IDLE", true),
        (ErrorCode::Shutdown, "E_SHUTDOWN", true),
        (ErrorCode::Internal, "E_INTERNAL", false),
        (ErrorCode::Muted, "E_MUTED", false),
        (ErrorCode::Blocked, "E_BLOCKED", false),
        (ErrorCode::Forbidden, "E_FORBIDDEN", false),
    ];
    assert_eq!(table.len(), ALL.len());
    for (code, name, closes) in table {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name);
        assert_eq!(code.closes(), closes, "{name}");
    }
}

#[test]
fn codec_errors_map_to_codes() {
    let too_large = CodecError::TooLarge { len: 10, max: 5 };
    assert_eq!(too_large.code(), ErrorCode::TooLarge);
    let others = [
        CodecError::Undecodable {
            format: Format::Json,
            reason: "x".into(),
        },
        CodecError::Undecodable {
            format: Format::Protobuf,
            reason: "x".into(),
        },
        CodecError::FormatNotAllowed {
            format: Format::Json,
            policy: FormatPolicy::Protobuf,
        },
        CodecError::Io(std::io::Error::other("reset")),
    ];
    for e in others {
        assert_eq!(e.code(), ErrorCode::BadFrame, "{e}");
    }
    assert!(too_large.to_string().contains("10"));
}

#[test]
fn login_success_is_the_protocol_frame() {
    let m = frames::login_success("42", "", 0);
    // Exactly the reference encoding of the login answer.
    assert_eq!(m, common::vector("login-success").msg);
    assert_eq!(m.encode_to_vec(), common::vector("login-success").protobuf);
    let m = frames::login_success("42", "k-9", 9);
    assert_eq!(m.msg_type(), MsgType::Event);
    assert_eq!(m.from_user_id, easyim_proto::KEEP_ALIVE);
    assert_eq!(m.to_user_id, "42");
    assert_eq!(m.content, "SUCCESS");
    assert_eq!((m.id.as_str(), m.seq), ("k-9", 9));
    assert_eq!(frames::heartbeat_reply("42", "k-9", 9), m);
}

#[test]
fn ack_is_the_stored_message_sent_without_token_with_the_answered_seq() {
    let stored = Msg {
        status: MsgStatus::Fail as i32,
        access_token: "secret".into(),
        seq: 1,
        ..common::sample()
    };
    let a = frames::ack(&stored, 99);
    assert_eq!(
        a,
        Msg {
            seq: 99,
            status: MsgStatus::Sent as i32,
            access_token: String::new(),
            ..stored.clone()
        }
    );
    assert_eq!(
        (a.timestamp, a.conv_seq),
        (stored.timestamp, stored.conv_seq)
    );
    let json = Encoded::new(a).payload(Format::Json).clone();
    assert!(!std::str::from_utf8(&json).unwrap().contains("access_token"));
}

#[test]
fn error_frame_is_a_notify_from_notify() {
    let e = frames::error(
        ErrorCode::Auth,
        "from_user_id is not the logged-in user",
        "42",
        "",
        5,
    );
    // Exactly the reference encoding.
    assert_eq!(e, common::vector("notify-error").msg);
    assert_eq!(e.encode_to_vec(), common::vector("notify-error").protobuf);
    for code in ALL {
        let e = frames::error(code, "text", "", "id-1", 3);
        assert_eq!(e.msg_type(), MsgType::Notify);
        assert_eq!(e.from_user_id, "notify");
        assert_eq!(e.from_user_id, easyim_proto::NOTIFY_SENDER);
        assert_eq!(e.to_user_id, "");
        assert_eq!((e.id.as_str(), e.seq), ("id-1", 3));
        assert_eq!(e.content, format!("{}: text", code.as_str()));
        assert!(e.access_token.is_empty());
    }
}

#[test]
fn notice_and_receipt() {
    let n = frames::notice("7", "FRIEND_REQUEST: 9".into());
    assert_eq!(n.msg_type(), MsgType::Notify);
    assert_eq!(
        (n.from_user_id.as_str(), n.to_user_id.as_str()),
        ("notify", "7")
    );
    assert_eq!(n.content, "FRIEND_REQUEST: 9");

    let r = frames::receipt("m-1", MsgStatus::Read, "2", "1", ChatType::Group, 1, 1234);
    assert_eq!(
        r,
        Msg {
            id: "m-1".into(),
            status: 3,
            from_user_id: "2".into(),
            to_user_id: "1".into(),
            chat_type: 1,
            msg_type: 1,
            timestamp: 1234,
            ..Msg::default()
        }
    );
}

#[test]
fn encoded_payload_is_encoded_once_per_format() {
    let enc = Encoded::new(common::sample());
    assert_eq!(enc.msg(), &common::sample());
    for format in [Format::Protobuf, Format::Json] {
        let a = enc.payload(format);
        let b = enc.payload(format);
        assert_eq!(a.as_ptr(), b.as_ptr(), "{format}");
        assert_eq!(a, b);
    }
    assert_ne!(
        enc.payload(Format::Protobuf).as_ptr(),
        enc.payload(Format::Json).as_ptr()
    );
    assert_eq!(
        &enc.payload(Format::Protobuf)[..],
        &common::sample().encode_to_vec()[..]
    );
    assert_eq!(
        &enc.payload(Format::Json)[..],
        &serde_json::to_vec(&common::sample()).unwrap()[..]
    );
    // Clones of the payload share the bytes too.
    assert_eq!(
        enc.payload(Format::Json).clone().as_ptr(),
        enc.payload(Format::Json).as_ptr()
    );
}

#[test]
fn encoded_is_shared_across_threads() {
    let enc: Arc<Encoded> = Arc::new(common::sample().into());
    let ptrs: Vec<usize> = (0..4)
        .map(|i| {
            let enc = Arc::clone(&enc);
            std::thread::spawn(move || {
                let f = if i % 2 == 0 {
                    Format::Json
                } else {
                    Format::Protobuf
                };
                (enc.payload(f).as_ptr() as usize, f)
            })
        })
        .map(|h| h.join().unwrap())
        .map(|(p, f)| {
            assert_eq!(p, enc.payload(f).as_ptr() as usize);
            p
        })
        .collect();
    assert_eq!(ptrs.len(), 4);
}
