//! Property tests: every `Msg` survives every encoding, and no input makes a decoder panic.

mod common;

use bytes::BytesMut;
use easyim_proto::{Encoded, Format, FormatPolicy, FramedCodec, LinesCodec, Msg};
use proptest::prelude::*;
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

fn any_msg() -> impl Strategy<Value = Msg> {
    (
        (
            any::<String>(),
            any::<u32>(),
            any::<String>(),
            any::<String>(),
        ),
        (0..=1i32, 0..=9i32, 0..=3i32),
        (any::<String>(), any::<String>(), any::<i64>(), any::<u64>()),
        (any::<String>(), any::<i64>(), any::<bool>()),
    )
        .prop_map(
            |(
                (id, seq, from_user_id, to_user_id),
                (chat_type, msg_type, status),
                (content, access_token, timestamp, conv_seq),
                (ref_id, edited_at, recalled),
            )| Msg {
                id,
                seq,
                from_user_id,
                to_user_id,
                chat_type,
                msg_type,
                status,
                content,
                access_token,
                timestamp,
                conv_seq,
                ref_id,
                edited_at,
                recalled,
            },
        )
}

proptest! {
    #[test]
    fn protobuf_round_trip(m in any_msg()) {
        let bytes = m.encode_to_vec();
        prop_assert_eq!(Msg::decode(&bytes[..]).unwrap(), m);
    }

    #[test]
    fn json_round_trip(m in any_msg()) {
        let bytes = serde_json::to_vec(&m).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Msg>(&bytes).unwrap(), m);
    }

    #[test]
    fn framed_round_trip(msgs in prop::collection::vec((any_msg(), any::<bool>()), 1..4), cut in any::<prop::sample::Index>()) {
        let mut codec = FramedCodec::new(usize::MAX, FormatPolicy::Auto);
        let mut wire = BytesMut::new();
        let mut want = Vec::new();
        for (m, json) in msgs {
            let format = if json { Format::Json } else { Format::Protobuf };
            codec.encode(Encoded::new(m.clone()).payload(format).clone(), &mut wire).unwrap();
            want.push((m, format));
        }
        let cut = cut.index(wire.len() + 1);
        let got = common::decode_pieces(&mut codec, &wire, &[cut]);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn lines_round_trip(msgs in prop::collection::vec(any_msg(), 1..4), cut in any::<prop::sample::Index>()) {
        let mut codec = LinesCodec::new(usize::MAX, FormatPolicy::Auto);
        let mut wire = BytesMut::new();
        for m in &msgs {
            codec.encode(Encoded::new(m.clone()).payload(Format::Json).clone(), &mut wire).unwrap();
        }
        let cut = cut.index(wire.len() + 1);
        let got = common::decode_pieces(&mut codec, &wire, &[cut]);
        let want: Vec<_> = msgs.into_iter().map(|m| (m, Format::Json)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn framed_decoder_never_panics(input in prop::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
        // A small limit so that random lengths are both under and over it.
        let policy = if json { FormatPolicy::Json } else { FormatPolicy::Auto };
        let mut codec = FramedCodec::new(256, policy);
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        let mut codec = FramedCodec::new(256, policy);
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = codec.decode_eof(&mut buf) {}
    }

    #[test]
    fn lines_decoder_never_panics(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut codec = LinesCodec::new(128, FormatPolicy::Auto);
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        let mut codec = LinesCodec::new(128, FormatPolicy::Auto);
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = codec.decode_eof(&mut buf) {}
    }

    #[test]
    fn json_ish_lines_never_panic(input in r#"[{}\[\]":,0-9a-z_ \n\r\\-]{0,200}"#) {
        // Random text made of JSON's own characters reaches deeper into the parser.
        let mut codec = LinesCodec::new(128, FormatPolicy::Auto);
        let mut buf = BytesMut::from(input.as_bytes());
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        let _ = FormatPolicy::Auto.decode(input.as_bytes());
    }

    #[test]
    fn json_objects_with_random_fields_never_panic(
        fields in prop::collection::vec(
            (prop::sample::select(vec!["id", "seq", "chat_type", "msg_type", "status", "content", "timestamp", "conv_seq", "x"]),
             prop_oneof![
                 any::<i64>().prop_map(|v| v.to_string()),
                 any::<u64>().prop_map(|v| v.to_string()),
                 any::<f64>().prop_map(|v| format!("{v:?}")),
                 any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
                 Just("null".to_owned()),
                 Just("{}".to_owned()),
                 Just("[1]".to_owned()),
                 Just("true".to_owned()),
             ]),
            0..6)
    ) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let text = format!("{{{}}}", body.join(","));
        let _ = FormatPolicy::Json.decode(text.as_bytes());
    }
}
