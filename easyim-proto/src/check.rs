//! Whether bytes decode as a [`crate::Msg`], found without building one: a frame that arrives
//! in its protobuf form (from another node) is checked so, and kept as bytes; the `Msg` is
//! built only if something asks for it (see [`crate::Encoded::from_protobuf`]).

use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};

/// The field numbers of `Msg`'s strings (`id`, `from_user_id`, `to_user_id`, `content`,
/// `access_token`, `ref_id`); every other field of `Msg` is a varint.
const STRINGS: [u32; 6] = [1, 3, 4, 8, 9, 12];
/// `seq`, `chat_type`, `msg_type`, `status`, `timestamp`, `conv_seq`, `edited_at`, `recalled`.
const VARINTS: [u32; 8] = [2, 5, 6, 7, 10, 11, 13, 14];

/// True only if `Msg::decode` accepts `buf`: every key reads, every field of `Msg` has its
/// wire type, every string is UTF-8 and every other field is well formed, as prost checks
/// them. False may be too strict (the caller then decodes to find out), never too lenient.
pub(crate) fn decodes(mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        let Ok((tag, wire_type)) = decode_key(&mut buf) else {
            return false;
        };
        let ok = if STRINGS.contains(&tag) {
            wire_type == WireType::LengthDelimited && string(&mut buf)
        } else if VARINTS.contains(&tag) {
            wire_type == WireType::Varint && decode_varint(&mut buf).is_ok()
        } else {
            skip_field(wire_type, tag, &mut buf, DecodeContext::default()).is_ok()
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Reads a length-delimited UTF-8 string off the front of `buf`.
fn string(buf: &mut &[u8]) -> bool {
    let Ok(len) = decode_varint(buf) else {
        return false;
    };
    let Some(len) = usize::try_from(len).ok().filter(|&l| l <= buf.len()) else {
        return false;
    };
    let (s, rest) = buf.split_at(len);
    *buf = rest;
    std::str::from_utf8(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Msg;
    use proptest::prelude::*;
    use prost::Message as _;

    fn any_msg() -> impl Strategy<Value = Msg> {
        (
            (".*", any::<u32>(), ".*", ".*", any::<i32>(), any::<i32>()),
            (any::<i32>(), ".*", ".*", any::<i64>(), any::<u64>()),
            (".*", any::<i64>(), any::<bool>()),
        )
            .prop_map(|(a, b, c)| Msg {
                id: a.0,
                seq: a.1,
                from_user_id: a.2,
                to_user_id: a.3,
                chat_type: a.4,
                msg_type: a.5,
                status: b.0,
                content: b.1,
                access_token: b.2,
                timestamp: b.3,
                conv_seq: b.4,
                ref_id: c.0,
                edited_at: c.1,
                recalled: c.2,
            })
    }

    proptest! {
        #[test]
        fn every_encoded_msg_is_accepted(m in any_msg()) {
            prop_assert!(decodes(&m.encode_to_vec()));
        }

        #[test]
        fn what_is_accepted_decodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if decodes(&bytes) {
                prop_assert!(Msg::decode(bytes.as_slice()).is_ok());
            }
        }

        #[test]
        fn a_damaged_msg_is_accepted_only_if_it_decodes(
            m in any_msg(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = m.encode_to_vec();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if decodes(&bytes) {
                prop_assert!(Msg::decode(bytes.as_slice()).is_ok());
            }
        }
    }

    #[test]
    fn what_prost_refuses_is_refused() {
        // A string that is not UTF-8.
        assert!(!decodes(&[0x0a, 0x01, 0xff]));
        // `content` (8) as a varint, `seq` (2) as a string.
        assert!(!decodes(&[0x40, 0x01]));
        assert!(!decodes(&[0x12, 0x00]));
        // A length past the end; a key that does not read; field number 0.
        assert!(!decodes(&[0x0a, 0x05, b'a']));
        assert!(!decodes(&[0x80]));
        assert!(!decodes(&[0x00, 0x00]));
        // An unknown field is skipped, as prost does.
        assert!(decodes(&[0xa8, 0x01, 0x05]));
        assert!(decodes(&[]));
    }
}
