//! Raw protobuf on a socket, as the original server and its clients speak it (protocol.md
//! section 2): no length prefix, one `Msg` per write.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{Format, FormatPolicy, DEFAULT_MAX_FRAME_BYTES};
use crate::{CodecError, Msg};

/// The first bytes a raw protobuf `Msg` can start with: the tags of fields 1 to 6 with their
/// wire types (`id`, `seq`, `from_user_id`, `to_user_id`, `chat_type`, `msg_type`). A framed
/// connection starts with `0x00` (any length under 16 MiB), JSON with `{`, HTTP with a capital.
pub const RAW_FIRST_BYTES: [u8; 6] = [0x0a, 0x10, 0x1a, 0x22, 0x28, 0x30];

/// Whether a connection whose first byte is `b` speaks raw protobuf.
pub fn is_raw_start(b: u8) -> bool {
    RAW_FIRST_BYTES.contains(&b)
}

/// Raw protobuf: what the buffer holds after a read is one message.
///
/// The caller hands the decoder what each read delivered (see protocol.md on why this is
/// fragile). When the bytes buffered do not decode, they are kept and completed by the next
/// read, up to `max_frame` bytes; past that the connection is refused with
/// [`CodecError::TooLarge`]. Encoding writes the payload as it is.
#[derive(Debug, Clone)]
pub struct RawCodec {
    max_frame: usize,
    policy: FormatPolicy,
}

impl RawCodec {
    /// A codec that refuses messages over `max_frame` bytes; with `FormatPolicy::Json` every
    /// message is refused, since raw messages are protobuf.
    pub fn new(max_frame: usize, policy: FormatPolicy) -> Self {
        RawCodec { max_frame, policy }
    }
}

impl Default for RawCodec {
    fn default() -> Self {
        RawCodec::new(DEFAULT_MAX_FRAME_BYTES, FormatPolicy::Auto)
    }
}

impl Decoder for RawCodec {
    type Item = (Msg, Format);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if src.is_empty() {
            return Ok(None);
        }
        if !self.policy.allows(Format::Protobuf) {
            return Err(CodecError::FormatNotAllowed {
                format: Format::Protobuf,
                policy: self.policy,
            });
        }
        if src.len() > self.max_frame {
            return Err(CodecError::TooLarge {
                len: src.len(),
                max: self.max_frame,
            });
        }
        match Msg::decode(&src[..]) {
            Ok(m) => {
                src.clear();
                Ok(Some((m, Format::Protobuf)))
            }
            // Not whole yet: the next read completes it.
            Err(_) => Ok(None),
        }
    }

    /// At the end of the stream, bytes that never decoded are a bad frame.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if src.is_empty() {
            return Ok(None);
        }
        let rest = src.split();
        Msg::decode(&rest[..])
            .map(|m| Some((m, Format::Protobuf)))
            .map_err(|e| CodecError::Undecodable {
                format: Format::Protobuf,
                reason: e.to_string(),
            })
    }
}

impl Encoder<Bytes> for RawCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}

impl Encoder<&[u8]> for RawCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MsgType;

    fn login() -> Msg {
        Msg {
            id: "login".into(),
            seq: 1,
            from_user_id: "16".into(),
            to_user_id: "KEEP_ALIVE".into(),
            msg_type: MsgType::Event as i32,
            access_token: "t".into(),
            ..Msg::default()
        }
    }

    #[test]
    fn every_field_tag_is_a_raw_start_and_framed_json_http_are_not() {
        let m = login();
        assert!(is_raw_start(m.encode_to_vec()[0]));
        for b in [0x00, b'{', b'G', b'P', 0x16] {
            assert!(!is_raw_start(b), "{b:#x}");
        }
    }

    #[test]
    fn a_whole_chunk_is_one_message() {
        let mut c = RawCodec::default();
        let mut buf = BytesMut::from(&login().encode_to_vec()[..]);
        let (m, f) = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!((m, f), (login(), Format::Protobuf));
        assert!(buf.is_empty());
        assert!(c.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn a_cut_message_waits_for_the_rest() {
        let bytes = login().encode_to_vec();
        let mut c = RawCodec::default();
        // Cut inside the `id` string: not decodable yet.
        let mut buf = BytesMut::from(&bytes[..4]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&bytes[4..]);
        assert_eq!(c.decode(&mut buf).unwrap().unwrap().0, login());
    }

    #[test]
    fn limits_policy_and_garbage_at_the_end() {
        let mut c = RawCodec::new(8, FormatPolicy::Auto);
        let mut buf = BytesMut::from(&[0x0a, 0x40, 1, 2, 3, 4, 5, 6, 7][..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::TooLarge { len: 9, max: 8 })
        ));
        let mut c = RawCodec::new(64, FormatPolicy::Json);
        let mut buf = BytesMut::from(&login().encode_to_vec()[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::FormatNotAllowed { .. })
        ));
        let mut c = RawCodec::default();
        let mut buf = BytesMut::from(&[0x0a, 0x40, 1][..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(matches!(
            c.decode_eof(&mut buf),
            Err(CodecError::Undecodable { .. })
        ));
    }
}
