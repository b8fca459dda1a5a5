//! Helpers shared by the integration tests: test vectors and decoders run over byte slices.

#![allow(dead_code)]

use bytes::BytesMut;
use easyim_proto::{CodecError, Format, Msg};
use serde_json::Value;
use tokio_util::codec::Decoder;

/// One entry of `tests/data/msg-vectors.json`.
pub(crate) struct Vector {
    pub(crate) name: String,
    pub(crate) fields: Value,
    pub(crate) msg: Msg,
    pub(crate) protobuf: Vec<u8>,
    pub(crate) framed: Vec<u8>,
}

/// The reference vectors, with `fields` turned into a `Msg` field by field (not through the
/// crate's own JSON decoder, which is under test).
pub(crate) fn vectors() -> Vec<Vector> {
    let text = include_str!("../data/msg-vectors.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let f = &v["fields"];
            let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("{k}")).to_owned();
            let i = |k: &str| f[k].as_i64().unwrap_or_else(|| panic!("{k}"));
            let msg = Msg {
                id: s("id"),
                seq: u32::try_from(f["seq"].as_u64().unwrap()).unwrap(),
                from_user_id: s("from_user_id"),
                to_user_id: s("to_user_id"),
                chat_type: i("chat_type") as i32,
                msg_type: i("msg_type") as i32,
                status: i("status") as i32,
                content: s("content"),
                access_token: s("access_token"),
                timestamp: i("timestamp"),
                conv_seq: f["conv_seq"].as_u64().unwrap(),
                ..Msg::default()
            };
            assert_eq!(f.as_object().unwrap().len(), 11, "every field is listed");
            Vector {
                name: v["name"].as_str().unwrap().to_owned(),
                fields: f.clone(),
                msg,
                protobuf: hex::decode(v["protobuf_hex"].as_str().unwrap()).unwrap(),
                framed: hex::decode(v["framed_hex"].as_str().unwrap()).unwrap(),
            }
        })
        .collect()
}

/// The vector called `name`.
pub(crate) fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

/// A frame of framed TCP around `payload`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Feeds `input` to `codec` in one buffer and decodes until it needs more; returns the
/// messages and what is left in the buffer.
pub(crate) fn decode_all<D>(codec: &mut D, input: &[u8]) -> (Vec<(Msg, Format)>, BytesMut)
where
    D: Decoder<Item = (Msg, Format), Error = CodecError>,
{
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        out.push(item);
    }
    (out, buf)
}

/// Feeds `input` to `codec` in pieces cut at `cuts` (increasing positions), decoding after
/// every piece as a stream would.
pub(crate) fn decode_pieces<D>(codec: &mut D, input: &[u8], cuts: &[usize]) -> Vec<(Msg, Format)>
where
    D: Decoder<Item = (Msg, Format), Error = CodecError>,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[from..to]);
        from = to;
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

/// A typical chat message.
pub(crate) fn sample() -> Msg {
    Msg {
        id: "c-1".into(),
        seq: 7,
        from_user_id: "1630381388895096832".into(),
        to_user_id: "1630381388895666666".into(),
        chat_type: 0,
        msg_type: 0,
        status: 1,
        content: "hello word.can you received ?".into(),
        access_token: String::new(),
        timestamp: 1_764_374_400_123,
        conv_seq: 42,
        ..Msg::default()
    }
}
