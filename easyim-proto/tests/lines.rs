//! `LinesCodec` on byte slices: round trips, split input, `\r\n` and blank lines, the line
//! limit, the policy and the last line at end of stream.

mod common;

use bytes::BytesMut;
use easyim_proto::{CodecError, Encoded, Format, FormatPolicy, LinesCodec, Msg};
use tokio_util::codec::{Decoder, Encoder};

fn encode_lines(msgs: &[Msg]) -> Vec<u8> {
    let mut codec = LinesCodec::default();
    let mut dst = BytesMut::new();
    for m in msgs {
        let payload = Encoded::new(m.clone()).payload(Format::Json).clone();
        codec.encode(payload, &mut dst).unwrap();
    }
    dst.to_vec()
}

fn msgs() -> Vec<Msg> {
    let mut out: Vec<Msg> = common::vectors().into_iter().map(|v| v.msg).collect();
    out.push(common::sample());
    out
}

fn json_items(msgs: Vec<Msg>) -> Vec<(Msg, Format)> {
    msgs.into_iter().map(|m| (m, Format::Json)).collect()
}

#[test]
fn encode_appends_a_newline() {
    let out = encode_lines(&[common::sample()]);
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(
        &out[..out.len() - 1],
        &serde_json::to_vec(&common::sample()).unwrap()[..]
    );
    // The &[u8] encoder is the same.
    let mut dst = BytesMut::new();
    LinesCodec::default().encode(&b"{}"[..], &mut dst).unwrap();
    assert_eq!(&dst[..], b"{}\n");
}

#[test]
fn round_trip_many_lines_in_one_buffer() {
    let input = encode_lines(&msgs());
    let (got, rest) = common::decode_all(&mut LinesCodec::default(), &input);
    assert_eq!(got, json_items(msgs()));
    assert!(rest.is_empty());
}

#[test]
fn byte_by_byte() {
    let input = encode_lines(&msgs());
    let cuts: Vec<usize> = (1..input.len()).collect();
    let got = common::decode_pieces(&mut LinesCodec::default(), &input, &cuts);
    assert_eq!(got, json_items(msgs()));
}

#[test]
fn split_at_every_position() {
    let input = encode_lines(&msgs()[..3]);
    for cut in 0..=input.len() {
        let got = common::decode_pieces(&mut LinesCodec::default(), &input, &[cut]);
        assert_eq!(got, json_items(msgs()[..3].to_vec()), "cut at {cut}");
    }
}

#[test]
fn crlf_and_blank_lines() {
    let a = serde_json::to_string(&common::sample()).unwrap();
    let input = format!("\n\r\n   \n{a}\r\n\r\n  {a}  \n\t\n{a}\n");
    let want = json_items(vec![common::sample(); 3]);
    let (got, rest) = common::decode_all(&mut LinesCodec::default(), input.as_bytes());
    assert_eq!(got, want);
    assert!(rest.is_empty());
    // Split between '\r' and '\n' too, and everywhere else.
    let bytes = input.as_bytes();
    for cut in 0..=bytes.len() {
        let got = common::decode_pieces(&mut LinesCodec::default(), bytes, &[cut]);
        assert_eq!(got, want, "cut at {cut}");
    }
    // Only blank lines: nothing, and nothing left over.
    let (got, rest) = common::decode_all(&mut LinesCodec::default(), b"\n\r\n \n");
    assert!(got.is_empty() && rest.is_empty());
}

#[test]
fn unterminated_line_waits_and_keeps_the_bytes() {
    let input = encode_lines(&[common::sample()]);
    let mut codec = LinesCodec::default();
    let mut buf = BytesMut::new();
    for (i, &b) in input[..input.len() - 1].iter().enumerate() {
        buf.extend_from_slice(&[b]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(&buf[..], &input[..=i]);
    }
    buf.extend_from_slice(b"\n");
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some((common::sample(), Format::Json))
    );
}

fn too_large(res: Result<Option<(Msg, Format)>, CodecError>) -> (usize, usize) {
    match res {
        Err(e @ CodecError::TooLarge { .. }) => {
            assert_eq!(e.code(), easyim_proto::ErrorCode::TooLarge);
            let CodecError::TooLarge { len, max } = e else {
                unreachable!()
            };
            (len, max)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn long_line_is_refused_as_soon_as_it_passes_the_limit() {
    let max = 64;
    let mut codec = LinesCodec::new(max, FormatPolicy::Auto);
    let mut buf = BytesMut::new();
    // Up to the limit, it waits for the newline...
    for _ in 0..max {
        buf.extend_from_slice(b"x");
        assert!(codec.decode(&mut buf).unwrap().is_none(), "{}", buf.len());
    }
    // ...and one more byte, with no newline in sight, is refused.
    buf.extend_from_slice(b"x");
    assert_eq!(too_large(codec.decode(&mut buf)), (max + 1, max));
}

#[test]
fn long_line_in_one_read_is_refused() {
    let mut codec = LinesCodec::new(64, FormatPolicy::Auto);
    let mut buf = BytesMut::from(&[b'a'; 1000][..]);
    assert_eq!(too_large(codec.decode(&mut buf)).1, 64);
    // A complete line over the limit too.
    let mut codec = LinesCodec::new(64, FormatPolicy::Auto);
    let mut line = vec![b' '; 100];
    line.push(b'\n');
    let mut buf = BytesMut::from(&line[..]);
    assert_eq!(too_large(codec.decode(&mut buf)), (100, 64));
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted_with_crlf() {
    let json = serde_json::to_vec(&common::sample()).unwrap();
    let max = json.len();
    let mut input = json.clone();
    input.extend_from_slice(b"\r\n");
    // Fed byte by byte: the '\r' after a full-length line is not taken as an overflow.
    let cuts: Vec<usize> = (1..input.len()).collect();
    let got = common::decode_pieces(&mut LinesCodec::new(max, FormatPolicy::Auto), &input, &cuts);
    assert_eq!(got, vec![(common::sample(), Format::Json)]);
    // One byte shorter a limit refuses it.
    let mut buf = BytesMut::from(&input[..]);
    assert!(matches!(
        LinesCodec::new(max - 1, FormatPolicy::Auto).decode(&mut buf),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn policy() {
    let input = encode_lines(&[common::sample()]);
    for policy in [FormatPolicy::Auto, FormatPolicy::Json] {
        let (got, _) = common::decode_all(&mut LinesCodec::new(1 << 16, policy), &input);
        assert_eq!(got, vec![(common::sample(), Format::Json)]);
    }
    let mut buf = BytesMut::from(&input[..]);
    match LinesCodec::new(1 << 16, FormatPolicy::Protobuf).decode(&mut buf) {
        Err(
            e @ CodecError::FormatNotAllowed {
                format: Format::Json,
                policy: FormatPolicy::Protobuf,
            },
        ) => {
            assert_eq!(e.code(), easyim_proto::ErrorCode::BadFrame);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_lines_are_undecodable() {
    for line in [
        &b"hello\n"[..],
        b"{\n",
        b"[1,2]\n",
        b"{\"seq\":-1}\n",
        b"\x0a\x01a\n",
    ] {
        let mut buf = BytesMut::from(line);
        match LinesCodec::default().decode(&mut buf) {
            Err(
                e @ CodecError::Undecodable {
                    format: Format::Json,
                    ..
                },
            ) => {
                assert_eq!(e.code(), easyim_proto::ErrorCode::BadFrame);
            }
            other => panic!("{line:?}: {other:?}"),
        }
    }
}

#[test]
fn last_line_without_newline_at_end_of_stream() {
    let json = serde_json::to_vec(&common::sample()).unwrap();
    let mut codec = LinesCodec::default();
    let mut buf = BytesMut::from(&json[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap(),
        Some((common::sample(), Format::Json))
    );
    assert!(buf.is_empty());
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());

    // Complete lines first, then the unterminated one, then trailing blanks are nothing.
    let mut input = encode_lines(&[common::sample()]);
    input.extend_from_slice(&json);
    let mut buf = BytesMut::from(&input[..]);
    let mut codec = LinesCodec::default();
    assert!(codec.decode_eof(&mut buf).unwrap().is_some());
    assert!(codec.decode_eof(&mut buf).unwrap().is_some());
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    let mut buf = BytesMut::from(&b" \r"[..]);
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    // An unterminated half message at the end of the stream is an error.
    let mut buf = BytesMut::from(&json[..10]);
    assert!(LinesCodec::default().decode_eof(&mut buf).is_err());
}

#[test]
fn a_shorter_buffer_after_a_long_one_does_not_panic() {
    let mut codec = LinesCodec::default();
    let mut long = BytesMut::from(&b"{\"id\":\"aaaaaaaaaaaa"[..]);
    assert!(codec.decode(&mut long).unwrap().is_none());
    let mut short = BytesMut::from(&b"{}\n"[..]);
    assert_eq!(
        codec.decode(&mut short).unwrap(),
        Some((Msg::default(), Format::Json))
    );
}
