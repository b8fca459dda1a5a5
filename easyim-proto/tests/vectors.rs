//! The reference vectors (`data/msg-vectors.json`): prost and `FramedCodec` produce exactly the
//! reference bytes, and decoding them gives back exactly the listed fields.

mod common;

use bytes::BytesMut;
use easyim_proto::{Encoded, Format, FramedCodec, LinesCodec, Msg};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn there_are_vectors() {
    let names: Vec<_> = common::vectors().into_iter().map(|v| v.name).collect();
    assert!(names.len() >= 8, "{names:?}");
    assert!(names.iter().any(|n| n == "original-readme-example"));
}

#[test]
fn prost_encodes_the_reference_bytes() {
    for v in common::vectors() {
        assert_eq!(
            hex::encode(v.msg.encode_to_vec()),
            hex::encode(&v.protobuf),
            "{}",
            v.name
        );
        let enc = Encoded::new(v.msg.clone());
        assert_eq!(
            &enc.payload(Format::Protobuf)[..],
            &v.protobuf[..],
            "{}",
            v.name
        );
    }
}

#[test]
fn framed_codec_encodes_the_reference_bytes() {
    for v in common::vectors() {
        let mut dst = BytesMut::new();
        FramedCodec::default()
            .encode(&v.msg.encode_to_vec()[..], &mut dst)
            .unwrap();
        assert_eq!(hex::encode(&dst), hex::encode(&v.framed), "{}", v.name);
        // The Bytes encoder is the same.
        let mut dst2 = BytesMut::new();
        let payload = Encoded::new(v.msg.clone())
            .payload(Format::Protobuf)
            .clone();
        FramedCodec::default().encode(payload, &mut dst2).unwrap();
        assert_eq!(dst, dst2, "{}", v.name);
    }
}

#[test]
fn protobuf_decodes_to_the_fields() {
    for v in common::vectors() {
        assert_eq!(Msg::decode(&v.protobuf[..]).unwrap(), v.msg, "{}", v.name);
    }
}

#[test]
fn framed_decodes_to_the_fields() {
    for v in common::vectors() {
        let mut buf = BytesMut::from(&v.framed[..]);
        let (msg, format) = FramedCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(msg, v.msg, "{}", v.name);
        assert_eq!(format, Format::Protobuf, "{}", v.name);
        assert!(buf.is_empty(), "{}", v.name);
    }
}

#[test]
fn all_vectors_in_one_buffer() {
    let vectors = common::vectors();
    let input: Vec<u8> = vectors.iter().flat_map(|v| v.framed.clone()).collect();
    let (got, rest) = common::decode_all(&mut FramedCodec::default(), &input);
    assert!(rest.is_empty());
    let got: Vec<Msg> = got.into_iter().map(|(m, _)| m).collect();
    let want: Vec<Msg> = vectors.into_iter().map(|v| v.msg).collect();
    assert_eq!(got, want);
}

#[test]
fn fields_as_json_decode_to_the_fields() {
    // `fields` is itself a complete JSON Msg (enums as integers, 64-bit integers as numbers).
    for v in common::vectors() {
        let line = serde_json::to_vec(&v.fields).unwrap();
        let (msg, format) = easyim_proto::FormatPolicy::Auto.decode(&line).unwrap();
        assert_eq!(format, Format::Json);
        assert_eq!(msg, v.msg, "{}", v.name);
    }
}

#[test]
fn json_output_is_the_fields() {
    // What the server writes is `fields`, less an empty access_token.
    for v in common::vectors() {
        let out: serde_json::Value =
            serde_json::from_slice(Encoded::new(v.msg.clone()).payload(Format::Json)).unwrap();
        let mut want = v.fields.clone();
        if v.msg.access_token.is_empty() {
            want.as_object_mut().unwrap().remove("access_token");
        }
        assert_eq!(out, want, "{}", v.name);
    }
}

#[test]
fn original_readme_line_decodes_to_its_fields() {
    let line = br#"{"id":"1630392697653039104","seq":0,"from_user_id":"1630381388895096832","to_user_id":"1630381388895666666","chat_type":0,"msg_type":0,"status":1,"content":"hello word.can you received ?","access_token":"aa.bbb.cc"}"#;
    let want = common::vector("original-readme-example").msg;

    // As a JSON line...
    let mut input = line.to_vec();
    input.push(b'\n');
    let (got, rest) = common::decode_all(&mut LinesCodec::default(), &input);
    assert!(rest.is_empty());
    assert_eq!(got, vec![(want.clone(), Format::Json)]);

    // ...and as the JSON payload of a frame.
    let (got, rest) = common::decode_all(&mut FramedCodec::default(), &common::frame(line));
    assert!(rest.is_empty());
    assert_eq!(got, vec![(want, Format::Json)]);
}
