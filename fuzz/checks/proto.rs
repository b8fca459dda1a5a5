// The checks of the wire-format fuzz targets (framed, lines, ws), shared by the cargo-fuzz
// targets in fuzz/fuzz_targets/ and by the corpus replay in easyim-proto/tests/fuzz_corpus.rs,
// which both `include!` this file. Each check takes arbitrary bytes and panics on a failure.

use bytes::BytesMut;
use easyim_proto::{
    decode_as, detect_format, CodecError, Format, FormatPolicy, FramedCodec, LinesCodec, Msg,
    DEFAULT_MAX_FRAME_BYTES,
};
use prost::Message as _;
use tokio_util::codec::Decoder;

/// The policy a fuzz input's first byte selects.
fn fuzz_policy(b: u8) -> FormatPolicy {
    match b % 3 {
        0 => FormatPolicy::Auto,
        1 => FormatPolicy::Json,
        _ => FormatPolicy::Protobuf,
    }
}

/// The frame limit a fuzz input's first byte selects: small ones too, so that the fuzzer
/// reaches the over-the-limit paths with short inputs.
fn fuzz_max_frame(b: u8) -> usize {
    [0, 7, 300, DEFAULT_MAX_FRAME_BYTES][usize::from(b >> 2) % 4]
}

/// Cuts `data` into chunks whose sizes follow `seed` (1 to 16 bytes, sometimes everything
/// left), as TCP may deliver a stream.
fn fuzz_chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut state = u32::from(seed) | 1;
    let mut rest = data;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = match (state >> 16) % 20 {
            0 => rest.len(),
            k => (k as usize).min(rest.len()),
        };
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}

/// What a decoder made of a whole stream: the messages, then the error that ended it, if any.
type FuzzOutcome = (Vec<(Msg, Format)>, Option<easyim_proto::ErrorCode>);

/// Runs `codec` over `chunks` as a reader would (decode after every chunk until it needs more,
/// `decode_eof` at the end), checking every decoded message and that the buffer never holds
/// much more than the bytes received plus one frame.
fn fuzz_run<C>(
    mut codec: C,
    chunks: &[&[u8]],
    max_frame: usize,
    policy: FormatPolicy,
) -> FuzzOutcome
where
    C: Decoder<Item = (Msg, Format), Error = CodecError>,
{
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut received = 0usize;
    let bound = |received: usize| 2 * (received + 4 + max_frame) + 64;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        received += chunk.len();
        loop {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(item)) => {
                    assert!(buf.len() < before, "a decoded frame consumed nothing");
                    fuzz_check_msg(&item.0, item.1, policy);
                    items.push(item);
                }
                Ok(None) => break,
                Err(e) => return (items, Some(fuzz_check_error(&e))),
            }
            assert!(
                buf.capacity() <= bound(received),
                "buffer grew past the input"
            );
        }
        assert!(
            buf.capacity() <= bound(received),
            "buffer capacity {} for {} bytes received (limit {max_frame})",
            buf.capacity(),
            received
        );
    }
    // The end of the stream: what is left is a last frame or an error, at most a few times.
    for _ in 0..=buf.len() {
        match codec.decode_eof(&mut buf) {
            Ok(Some(item)) => {
                fuzz_check_msg(&item.0, item.1, policy);
                items.push(item);
            }
            Ok(None) => return (items, None),
            Err(e) => return (items, Some(fuzz_check_error(&e))),
        }
    }
    panic!("decode_eof kept returning frames from a finite buffer");
}

/// A decode error is one of the codec's own (never I/O but the end-of-stream one) and says
/// something.
fn fuzz_check_error(e: &CodecError) -> easyim_proto::ErrorCode {
    assert!(!e.to_string().is_empty());
    e.code()
}

/// A decoded message is allowed by the policy, within the limit, and survives a round trip
/// through both formats unchanged.
fn fuzz_check_msg(m: &Msg, format: Format, policy: FormatPolicy) {
    assert!(policy.allows(format), "{format} decoded under {policy}");
    fuzz_roundtrip(m);
}

/// Protobuf and JSON re-encodings of `m` decode back to `m`.
fn fuzz_roundtrip(m: &Msg) {
    let pb = m.encode_to_vec();
    assert_ne!(pb.first(), Some(&b'{'), "a protobuf Msg starting with '{{'");
    let back = decode_as(&pb, Format::Protobuf).expect("re-encoded protobuf decodes");
    assert_eq!(&back, m, "protobuf round trip");
    let json = serde_json::to_vec(m).expect("a Msg always serializes");
    let back = decode_as(&json, Format::Json).expect("re-encoded JSON decodes");
    assert_eq!(&back, m, "JSON round trip");
}

/// Framed TCP: byte 0 picks the policy and the limit, byte 1 how the rest is cut into reads.
/// The messages and the final error must not depend on the cuts.
fn fuzz_framed(data: &[u8]) {
    let [sel, seed, stream @ ..] = data else {
        return;
    };
    let (policy, max) = (fuzz_policy(*sel), fuzz_max_frame(*sel));
    let whole = fuzz_run(FramedCodec::new(max, policy), &[stream], max, policy);
    let cut = fuzz_run(
        FramedCodec::new(max, policy),
        &fuzz_chunks(stream, *seed),
        max,
        policy,
    );
    assert_eq!(
        whole, cut,
        "framed decoding depends on how the stream is cut"
    );
}

/// JSON lines: as [`fuzz_framed`], with the lines codec.
fn fuzz_lines(data: &[u8]) {
    let [sel, seed, stream @ ..] = data else {
        return;
    };
    let (policy, max) = (fuzz_policy(*sel), fuzz_max_frame(*sel));
    let whole = fuzz_run(LinesCodec::new(max, policy), &[stream], max, policy);
    let cut = fuzz_run(
        LinesCodec::new(max, policy),
        &fuzz_chunks(stream, *seed),
        max,
        policy,
    );
    assert_eq!(
        whole, cut,
        "lines decoding depends on how the stream is cut"
    );
    for (_, format) in &whole.0 {
        assert_eq!(*format, Format::Json);
    }
}

/// WebSocket payloads: the whole input is one message, decoded as a text (JSON) and a binary
/// (protobuf) message, and through every policy.
fn fuzz_ws(data: &[u8]) {
    let as_json = decode_as(data, Format::Json);
    let as_pb = decode_as(data, Format::Protobuf);
    for (r, format) in [(&as_json, Format::Json), (&as_pb, Format::Protobuf)] {
        match r {
            Ok(m) => fuzz_roundtrip(m),
            Err(e) => {
                assert_eq!(e.code(), easyim_proto::ErrorCode::BadFrame);
                assert!(matches!(e, CodecError::Undecodable { format: f, .. } if *f == format));
            }
        }
    }
    let detected = detect_format(data);
    let expected = match detected {
        Format::Json => &as_json,
        Format::Protobuf => &as_pb,
    };
    for policy in [
        FormatPolicy::Auto,
        FormatPolicy::Json,
        FormatPolicy::Protobuf,
    ] {
        match policy.decode(data) {
            Ok((m, f)) => {
                assert!(policy.allows(f));
                assert_eq!(f, detected);
                assert_eq!(Some(&m), expected.as_ref().ok());
            }
            Err(CodecError::FormatNotAllowed { format, .. }) => {
                assert_eq!(format, detected);
                assert!(!policy.allows(format));
            }
            Err(e) => {
                assert!(policy.allows(detected), "{e}");
                assert!(expected.is_err());
            }
        }
    }
}
