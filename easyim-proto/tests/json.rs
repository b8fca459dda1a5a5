//! The JSON form of `Msg` (protocol.md section 1): input rules and output shape.

mod common;

use easyim_proto::{ChatType, Encoded, Format, FormatPolicy, Msg, MsgStatus, MsgType};
use serde_json::{json, Value};

fn decode(text: &str) -> Result<Msg, easyim_proto::CodecError> {
    FormatPolicy::Json.decode(text.as_bytes()).map(|(m, _)| m)
}

fn output(msg: &Msg) -> Value {
    serde_json::from_slice(Encoded::new(msg.clone()).payload(Format::Json)).unwrap()
}

#[test]
fn missing_fields_are_zero() {
    assert_eq!(decode("{}").unwrap(), Msg::default());
    let m = decode(r#"{"content":"hi"}"#).unwrap();
    assert_eq!(
        m,
        Msg {
            content: "hi".into(),
            ..Msg::default()
        }
    );
}

#[test]
fn null_is_zero() {
    let text = r#"{"id":null,"seq":null,"from_user_id":null,"to_user_id":null,"chat_type":null,
        "msg_type":null,"status":null,"content":null,"access_token":null,"timestamp":null,
        "conv_seq":null}"#;
    assert_eq!(decode(text).unwrap(), Msg::default());
}

#[test]
fn unknown_keys_are_ignored() {
    let text = r#"{"extra":1,"id":"a","nested":{"id":"b","seq":[1,{"x":null}]},
        "list":[{"content":"no"},"s",2.5,true,null],"seq":3,"flag":false,"z":"q"}"#;
    let m = decode(text).unwrap();
    assert_eq!(
        m,
        Msg {
            id: "a".into(),
            seq: 3,
            ..Msg::default()
        }
    );
}

#[test]
fn enum_names_are_accepted() {
    let m = decode(r#"{"chat_type":"GROUP","status":"READ","msg_type":"NOTIFY"}"#).unwrap();
    assert_eq!(m.chat_type(), ChatType::Group);
    assert_eq!(m.status(), MsgStatus::Read);
    assert_eq!(m.msg_type(), MsgType::Notify);
    let m = decode(r#"{"chat_type":"SINGLE","status":"ARRIVED","msg_type":"EVENT"}"#).unwrap();
    assert_eq!((m.chat_type, m.status, m.msg_type), (0, 2, 4));
    for (k, names) in [
        ("chat_type", &["SINGLE", "GROUP"][..]),
        (
            "msg_type",
            &["TEXT", "IMAGE", "VOICE", "VIDEO", "EVENT", "NOTIFY"],
        ),
        ("status", &["FAIL", "SENT", "ARRIVED", "READ"]),
    ] {
        for (i, name) in names.iter().enumerate() {
            let m = decode(&format!(r#"{{"{k}":"{name}"}}"#)).unwrap();
            let got = match k {
                "chat_type" => m.chat_type,
                "msg_type" => m.msg_type,
                _ => m.status,
            };
            assert_eq!(got, i as i32, "{k}={name}");
        }
    }
    // An unknown name, or a name in the wrong case, is an error.
    assert!(decode(r#"{"chat_type":"CHANNEL"}"#).is_err());
    assert!(decode(r#"{"status":"read"}"#).is_err());
    assert!(decode(r#"{"status":"READ_X"}"#).is_err());
}

#[test]
fn enum_numbers_are_accepted() {
    let m = decode(r#"{"chat_type":1,"msg_type":3,"status":2}"#).unwrap();
    assert_eq!((m.chat_type, m.msg_type, m.status), (1, 3, 2));
    // Open enums, as in protobuf: an unknown number decodes; the session judges it.
    assert_eq!(decode(r#"{"msg_type":9}"#).unwrap().msg_type, 9);
    assert!(decode(r#"{"msg_type":4294967296}"#).is_err());
    assert!(decode(r#"{"msg_type":1.5}"#).is_err());
    assert!(decode(r#"{"msg_type":true}"#).is_err());
}

#[test]
fn sixty_four_bit_integers_as_numbers_or_strings() {
    let want = Msg {
        timestamp: -1_764_374_400_123,
        conv_seq: u64::MAX,
        ..Msg::default()
    };
    assert_eq!(
        decode(r#"{"timestamp":-1764374400123,"conv_seq":18446744073709551615}"#).unwrap(),
        want
    );
    assert_eq!(
        decode(r#"{"timestamp":"-1764374400123","conv_seq":"18446744073709551615"}"#).unwrap(),
        want
    );
    assert_eq!(
        decode(r#"{"timestamp":"9223372036854775807"}"#)
            .unwrap()
            .timestamp,
        i64::MAX
    );
    for bad in [
        r#"{"conv_seq":-1}"#,
        r#"{"conv_seq":"18446744073709551616"}"#,
        r#"{"timestamp":"9223372036854775808"}"#,
        r#"{"timestamp":9223372036854775808}"#,
        r#"{"timestamp":"12a"}"#,
        r#"{"timestamp":""}"#,
        r#"{"conv_seq":1.0}"#,
        r#"{"conv_seq":[1]}"#,
    ] {
        assert!(decode(bad).is_err(), "{bad}");
    }
}

#[test]
fn seq_range() {
    assert_eq!(decode(r#"{"seq":4294967295}"#).unwrap().seq, u32::MAX);
    assert!(decode(r#"{"seq":4294967296}"#).is_err());
    assert!(decode(r#"{"seq":-1}"#).is_err());
}

#[test]
fn wrong_types_are_errors() {
    for bad in [
        r#"{"seq":"7"}"#,
        r#"{"seq":"0"}"#,
        r#"{"content":5}"#,
        r#"{"content":true}"#,
        r#"{"id":{}}"#,
        r#"{"id":{"a":1}}"#,
        r#"{"id":["a"]}"#,
        r#"{"from_user_id":42}"#,
        r#"{"access_token":false}"#,
        r#"{"seq":true}"#,
        r#"{"seq":{}}"#,
        r#"{"chat_type":{}}"#,
        "[]",
        "\"msg\"",
        "null",
        "{} {}",
        r#"{"id":"a",}"#,
    ] {
        match FormatPolicy::Auto.decode(bad.as_bytes()) {
            Err(easyim_proto::CodecError::Undecodable { .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn unicode_and_escapes_survive() {
    let m = Msg {
        id: "ид-1".into(),
        from_user_id: "用户".into(),
        content: "你好, 😀 \"q\" \\ \n\t\u{0} \u{2028} é".into(),
        ..Msg::default()
    };
    let payload = Encoded::new(m.clone()).payload(Format::Json).clone();
    assert!(!payload.contains(&b'\n'), "one line");
    assert_eq!(decode(std::str::from_utf8(&payload).unwrap()).unwrap(), m);
    // \u escapes, including a surrogate pair, on input.
    let m = decode(r#"{"content":"\u4f60\u597d \ud83d\ude00"}"#).unwrap();
    assert_eq!(m.content, "你好 😀");
}

#[test]
fn output_has_enums_as_integers_and_every_field_but_an_empty_token() {
    let m = Msg {
        chat_type: ChatType::Group as i32,
        msg_type: MsgType::Image as i32,
        status: MsgStatus::Read as i32,
        ..common::sample()
    };
    assert_eq!(
        output(&m),
        json!({
            "id": "c-1",
            "seq": 7,
            "from_user_id": "1630381388895096832",
            "to_user_id": "1630381388895666666",
            "chat_type": 1,
            "msg_type": 1,
            "status": 3,
            "content": "hello word.can you received ?",
            "timestamp": 1_764_374_400_123_i64,
            "conv_seq": 42,
        })
    );
    // Zero values are written too.
    let zero = output(&Msg::default());
    let obj = zero.as_object().unwrap();
    assert_eq!(obj.len(), 10);
    assert!(!obj.contains_key("access_token"));
    assert_eq!(obj["chat_type"], json!(0));
    assert_eq!(obj["id"], json!(""));
    // A token, when there is one, is written.
    let with_token = output(&Msg {
        access_token: "a.b.c".into(),
        ..Msg::default()
    });
    assert_eq!(with_token["access_token"], json!("a.b.c"));
    assert_eq!(with_token.as_object().unwrap().len(), 11);
}

#[test]
fn output_is_compact_one_line_starting_with_a_brace() {
    let payload = Encoded::new(common::sample()).payload(Format::Json).clone();
    assert_eq!(payload[0], b'{');
    assert!(!payload.contains(&b'\n'));
    assert_eq!(
        std::str::from_utf8(&payload).unwrap(),
        r#"{"id":"c-1","seq":7,"from_user_id":"1630381388895096832","to_user_id":"1630381388895666666","chat_type":0,"msg_type":0,"status":1,"content":"hello word.can you received ?","timestamp":1764374400123,"conv_seq":42}"#
    );
}

#[test]
fn duplicate_keys_take_the_last_value() {
    assert_eq!(decode(r#"{"seq":1,"seq":2}"#).unwrap().seq, 2);
}

#[test]
fn whitespace_around_tokens() {
    let m = decode(" {\n \"seq\" : 5 ,\t\"status\" : \"SENT\" } ").unwrap_err();
    // A JSON payload must start with '{' (it is told from protobuf by that byte) ...
    assert!(matches!(
        m,
        easyim_proto::CodecError::FormatNotAllowed { .. }
    ));
    // ... but whitespace inside is fine.
    let m = decode("{\n \"seq\" : 5 ,\t\"status\" : \"SENT\" } ").unwrap();
    assert_eq!((m.seq, m.status), (5, 1));
}

#[test]
fn ref_id_edited_at_and_recalled_only_when_set() {
    let plain = output(&common::sample());
    for key in ["ref_id", "edited_at", "recalled"] {
        assert!(plain.get(key).is_none(), "{key} written though unset");
    }
    let m = Msg {
        ref_id: "m-1".into(),
        edited_at: 1_764_374_400_999,
        recalled: true,
        ..common::sample()
    };
    let out = output(&m);
    assert_eq!(out["ref_id"], "m-1");
    assert_eq!(out["edited_at"], 1_764_374_400_999_i64);
    assert_eq!(out["recalled"], true);
    assert_eq!(decode(&out.to_string()).unwrap(), m);
    let m =
        decode(r#"{"msg_type":"RECALL","ref_id":"x","edited_at":"5","recalled":null}"#).unwrap();
    assert_eq!(m.msg_type, MsgType::Recall as i32);
    assert_eq!(
        (m.ref_id.as_str(), m.edited_at, m.recalled),
        ("x", 5, false)
    );
    assert!(decode(r#"{"recalled":1}"#).is_err());
    assert!(decode(r#"{"ref_id":7}"#).is_err());
    // protobuf: field 12 round-trips, and the reference vectors are untouched (vectors.rs).
    let bytes = prost::Message::encode_to_vec(&m);
    assert_eq!(
        <Msg as prost::Message>::decode(bytes.as_slice()).unwrap(),
        m
    );
}
