//! `FramedCodec` on byte slices: round trips in both formats, split input, many frames in one
//! buffer, truncated and oversized frames, garbage and the `MSG_FORMAT` policy.

mod common;

use bytes::BytesMut;
use easyim_proto::{CodecError, Encoded, Format, FormatPolicy, FramedCodec, Msg};
use tokio_util::codec::{Decoder, Encoder};

/// `msgs` encoded as frames in the given formats, back to back.
fn encode_stream(msgs: &[(Msg, Format)]) -> Vec<u8> {
    let mut codec = FramedCodec::default();
    let mut dst = BytesMut::new();
    for (m, f) in msgs {
        let payload = Encoded::new(m.clone()).payload(*f).clone();
        codec.encode(payload, &mut dst).unwrap();
    }
    dst.to_vec()
}

fn mixed() -> Vec<(Msg, Format)> {
    let mut out = Vec::new();
    for v in common::vectors() {
        out.push((v.msg.clone(), Format::Protobuf));
        out.push((v.msg, Format::Json));
    }
    out.push((common::sample(), Format::Json));
    out
}

#[test]
fn round_trip_both_formats() {
    for format in [Format::Protobuf, Format::Json] {
        let msg = common::sample();
        let input = encode_stream(&[(msg.clone(), format)]);
        let (got, rest) = common::decode_all(&mut FramedCodec::default(), &input);
        assert_eq!(got, vec![(msg, format)]);
        assert!(rest.is_empty());
    }
}

#[test]
fn json_payload_is_a_frame_of_the_json_bytes() {
    let msg = common::sample();
    let input = encode_stream(&[(msg.clone(), Format::Json)]);
    let json = serde_json::to_vec(&msg).unwrap();
    assert_eq!(input, common::frame(&json));
    assert_eq!(input[4], b'{');
}

#[test]
fn many_frames_in_one_buffer() {
    let msgs = mixed();
    let (got, rest) = common::decode_all(&mut FramedCodec::default(), &encode_stream(&msgs));
    assert_eq!(got, msgs);
    assert!(rest.is_empty());
}

#[test]
fn byte_by_byte() {
    let msgs = mixed();
    let input = encode_stream(&msgs);
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        common::decode_pieces(&mut FramedCodec::default(), &input, &cuts),
        msgs
    );
}

#[test]
fn split_at_every_position() {
    let msgs = mixed()[..4].to_vec();
    let input = encode_stream(&msgs);
    for cut in 0..=input.len() {
        let got = common::decode_pieces(&mut FramedCodec::default(), &input, &[cut]);
        assert_eq!(got, msgs, "cut at {cut}");
    }
}

#[test]
fn truncated_input_is_none_and_keeps_the_bytes() {
    let input = encode_stream(&[(common::sample(), Format::Protobuf)]);
    for len in 0..input.len() {
        let mut buf = BytesMut::from(&input[..len]);
        let mut codec = FramedCodec::default();
        assert!(codec.decode(&mut buf).unwrap().is_none(), "len {len}");
        assert_eq!(&buf[..], &input[..len], "len {len}");
        // The rest arrives: the same codec now decodes the message.
        buf.extend_from_slice(&input[len..]);
        let (msg, _) = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(msg, common::sample());
    }
}

#[test]
fn oversized_length_is_refused_from_the_header_alone() {
    let mut codec = FramedCodec::new(100, FormatPolicy::Auto);
    for len in [101u32, 65_536, u32::MAX] {
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        match codec.decode(&mut buf) {
            Err(e @ CodecError::TooLarge { .. }) => {
                assert_eq!(e.code(), easyim_proto::ErrorCode::TooLarge);
                let CodecError::TooLarge { len: got, max } = e else {
                    unreachable!()
                };
                assert_eq!((got, max), (len as usize, 100));
            }
            other => panic!("{len}: {other:?}"),
        }
        // Nothing was reserved for the payload it announced.
        assert!(buf.capacity() < 1024);
    }
    // A header whose first byte is a capital letter (an HTTP request) is always too large.
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
    assert!(matches!(
        FramedCodec::default().decode(&mut buf),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn exactly_the_limit_is_accepted() {
    let msg = Msg {
        content: "x".repeat(200),
        ..Msg::default()
    };
    let payload = Encoded::new(msg.clone()).payload(Format::Protobuf).clone();
    let mut codec = FramedCodec::new(payload.len(), FormatPolicy::Auto);
    let (got, _) = common::decode_all(&mut codec, &common::frame(&payload));
    assert_eq!(got, vec![(msg, Format::Protobuf)]);

    let mut codec = FramedCodec::new(payload.len() - 1, FormatPolicy::Auto);
    let mut buf = BytesMut::from(&common::frame(&payload)[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn header_only_of_a_valid_length_waits() {
    let mut buf = BytesMut::from(&1000u32.to_be_bytes()[..]);
    assert!(FramedCodec::default().decode(&mut buf).unwrap().is_none());
    assert_eq!(buf.len(), 4);
}

#[test]
fn garbage_protobuf_is_undecodable() {
    for payload in [
        &[0xff, 0xff, 0xff][..],       // a varint key that never ends
        &[0x0a, 0x05, b'a'][..],       // a string longer than the payload
        &[0x0a, 0x02, 0xff, 0xfe][..], // a string that is not UTF-8
        &[0x0f][..],                   // wire type 7
    ] {
        let mut buf = BytesMut::from(&common::frame(payload)[..]);
        match FramedCodec::default().decode(&mut buf) {
            Err(
                e @ CodecError::Undecodable {
                    format: Format::Protobuf,
                    ..
                },
            ) => {
                assert_eq!(e.code(), easyim_proto::ErrorCode::BadFrame);
            }
            other => panic!("{payload:?}: {other:?}"),
        }
    }
}

#[test]
fn garbage_json_is_undecodable() {
    for payload in [&b"{"[..], b"{\"id\":}", b"{} x", b"{\"seq\":\"7\"}"] {
        let mut buf = BytesMut::from(&common::frame(payload)[..]);
        match FramedCodec::default().decode(&mut buf) {
            Err(CodecError::Undecodable {
                format: Format::Json,
                ..
            }) => {}
            other => panic!("{payload:?}: {other:?}"),
        }
    }
}

#[test]
fn empty_frame_is_an_all_zero_protobuf_msg() {
    let (got, rest) = common::decode_all(&mut FramedCodec::default(), &[0, 0, 0, 0]);
    assert_eq!(got, vec![(Msg::default(), Format::Protobuf)]);
    assert!(rest.is_empty());
    // And it is what encoding an all-zero message gives.
    assert_eq!(
        encode_stream(&[(Msg::default(), Format::Protobuf)]),
        [0, 0, 0, 0]
    );
}

#[test]
fn unknown_protobuf_fields_are_ignored() {
    let mut payload = Encoded::new(common::sample())
        .payload(Format::Protobuf)
        .to_vec();
    // Field 20 (varint) and field 99 (length-delimited), as a newer client might send.
    payload.extend_from_slice(&[0xa0, 0x01, 0x01, 0x9a, 0x06, 0x02, b'h', b'i']);
    let (got, _) = common::decode_all(&mut FramedCodec::default(), &common::frame(&payload));
    assert_eq!(got, vec![(common::sample(), Format::Protobuf)]);
}

#[test]
fn policy_restricts_formats() {
    let msg = common::sample();
    let pb = encode_stream(&[(msg.clone(), Format::Protobuf)]);
    let json = encode_stream(&[(msg.clone(), Format::Json)]);
    let refused = |policy: FormatPolicy, input: &[u8], want: Format| {
        let mut buf = BytesMut::from(input);
        match FramedCodec::new(1 << 16, policy).decode(&mut buf) {
            Err(e @ CodecError::FormatNotAllowed { format, policy: p }) => {
                assert_eq!((format, p), (want, policy));
                assert_eq!(e.code(), easyim_proto::ErrorCode::BadFrame);
            }
            other => panic!("{policy}: {other:?}"),
        }
    };
    refused(FormatPolicy::Json, &pb, Format::Protobuf);
    refused(FormatPolicy::Protobuf, &json, Format::Json);

    let accepted = |policy: FormatPolicy, input: &[u8], want: Format| {
        let (got, _) = common::decode_all(&mut FramedCodec::new(1 << 16, policy), input);
        assert_eq!(got, vec![(msg.clone(), want)]);
    };
    accepted(FormatPolicy::Json, &json, Format::Json);
    accepted(FormatPolicy::Protobuf, &pb, Format::Protobuf);
    accepted(FormatPolicy::Auto, &json, Format::Json);
    accepted(FormatPolicy::Auto, &pb, Format::Protobuf);
}

#[test]
fn policy_parses_msg_format() {
    for (s, p) in [
        ("auto", FormatPolicy::Auto),
        ("", FormatPolicy::Auto),
        ("json", FormatPolicy::Json),
        (" JSON ", FormatPolicy::Json),
        ("protobuf", FormatPolicy::Protobuf),
    ] {
        assert_eq!(s.parse::<FormatPolicy>().unwrap(), p, "{s:?}");
        assert_eq!(p.to_string().parse::<FormatPolicy>().unwrap(), p);
    }
    assert!("xml".parse::<FormatPolicy>().is_err());
    assert_eq!(FormatPolicy::default(), FormatPolicy::Auto);
}

#[test]
fn detect_format_looks_at_the_first_byte() {
    assert_eq!(easyim_proto::detect_format(b"{}"), Format::Json);
    assert_eq!(easyim_proto::detect_format(b""), Format::Protobuf);
    assert_eq!(easyim_proto::detect_format(b"\x0a\x01{"), Format::Protobuf);
    // No protobuf Msg starts with '{', whatever its fields.
    for v in common::vectors() {
        assert_ne!(v.protobuf.first(), Some(&b'{'), "{}", v.name);
    }
}

#[test]
fn truncated_frame_at_end_of_stream_is_an_error() {
    let input = encode_stream(&[(common::sample(), Format::Protobuf)]);
    let mut buf = BytesMut::from(&input[..input.len() - 1]);
    assert!(FramedCodec::default().decode_eof(&mut buf).is_err());
    let mut buf = BytesMut::new();
    assert!(FramedCodec::default()
        .decode_eof(&mut buf)
        .unwrap()
        .is_none());
}

#[test]
fn an_announced_length_reserves_nothing_until_the_bytes_arrive() {
    // A header that announces 64 KiB, then silence: the buffer must not grow to 64 KiB (a peer
    // could pin that much per connection before login with four bytes).
    let mut codec = FramedCodec::new(65_536, FormatPolicy::Auto);
    let mut buf = BytesMut::with_capacity(16);
    buf.extend_from_slice(&65_536u32.to_be_bytes());
    let before = buf.capacity();
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert_eq!(
        buf.capacity(),
        before,
        "nothing reserved for the announced length"
    );
    assert_eq!(buf.len(), 4, "the header is kept");
}
