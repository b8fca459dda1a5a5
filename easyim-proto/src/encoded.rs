use std::sync::OnceLock;

use bytes::Bytes;
use prost::Message as _;

use crate::check;
use crate::codec::Format;
use crate::Msg;

/// A message encoded at most once per wire format.
///
/// The hub wraps an outgoing message in an `Arc<Encoded>` and queues the same value to every
/// connection it goes to; each connection asks for the payload in its own format, and the
/// first one to ask for a format pays for the encoding. A group message to a thousand members
/// is therefore one protobuf encode and at most one JSON encode, not a thousand.
///
/// A frame that arrives in its protobuf form ([`Encoded::from_protobuf`], a delivery from
/// another node) keeps its bytes for the protobuf connections and builds its `Msg` only when
/// something asks for it (a JSON connection): at least one of `msg` and `protobuf` is set.
#[derive(Debug)]
pub struct Encoded {
    msg: OnceLock<Msg>,
    protobuf: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

impl Encoded {
    /// Wraps a message; nothing is encoded yet.
    pub fn new(msg: Msg) -> Self {
        Encoded {
            msg: OnceLock::from(msg),
            protobuf: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// A message in its protobuf form (as [`Encoded::payload`] gives it), as it arrives from
    /// another node: the bytes go to protobuf connections as they are, and the [`Msg`] is
    /// decoded the first time it is asked for. `protobuf` is checked now, without building
    /// the `Msg`: bytes that do not decode are an error here, never later.
    pub fn from_protobuf(protobuf: Bytes) -> Result<Self, prost::DecodeError> {
        let msg = if check::decodes(&protobuf) {
            OnceLock::new()
        } else {
            // Not a plain Msg (or the check is stricter than prost): prost decides.
            OnceLock::from(Msg::decode(protobuf.clone())?)
        };
        Ok(Encoded {
            msg,
            protobuf: OnceLock::from(protobuf),
            json: OnceLock::new(),
        })
    }

    /// The message itself.
    pub fn msg(&self) -> &Msg {
        self.msg.get_or_init(|| {
            // Set only by `from_protobuf`, whose bytes were checked to decode.
            let bytes = self.protobuf.get().cloned().unwrap_or_default();
            Msg::decode(bytes).unwrap_or_default()
        })
    }

    /// The payload in `format` (without any framing), encoded on first use.
    pub fn payload(&self, format: Format) -> &Bytes {
        match format {
            Format::Protobuf => self
                .protobuf
                .get_or_init(|| Bytes::from(self.msg().encode_to_vec())),
            Format::Json => self.json.get_or_init(|| {
                // Serializing a Msg cannot fail: every field is a string or a number.
                Bytes::from(serde_json::to_vec(self.msg()).unwrap_or_default())
            }),
        }
    }
}

/// Two frames are equal when their messages are (the encodings follow from the message).
impl PartialEq for Encoded {
    fn eq(&self, other: &Self) -> bool {
        self.msg() == other.msg()
    }
}

impl From<Msg> for Encoded {
    fn from(msg: Msg) -> Self {
        Encoded::new(msg)
    }
}
