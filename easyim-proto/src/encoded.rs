use std::sync::OnceLock;

use bytes::Bytes;
use prost::Message as _;

use crate::codec::Format;
use crate::Msg;

/// A message encoded at most once per wire format.
///
/// The hub wraps an outgoing message in an `Arc<Encoded>` and queues the same value to every
/// connection it goes to; each connection asks for the payload in its own format, and the
/// first one to ask for a format pays for the encoding. A group message to a thousand members
/// is therefore one protobuf encode and at most one JSON encode, not a thousand.
#[derive(Debug)]
pub struct Encoded {
    msg: Msg,
    protobuf: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

impl Encoded {
    /// Wraps a message; nothing is encoded yet.
    pub fn new(msg: Msg) -> Self {
        Encoded {
            msg,
            protobuf: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// Wraps a message whose protobuf form (`protobuf`, as [`Encoded::payload`] gives it) is
    /// already at hand, as when it arrives from another node: it is not encoded again.
    pub fn with_protobuf(msg: Msg, protobuf: Bytes) -> Self {
        Encoded {
            msg,
            protobuf: OnceLock::from(protobuf),
            json: OnceLock::new(),
        }
    }

    /// The message itself.
    pub fn msg(&self) -> &Msg {
        &self.msg
    }

    /// The payload in `format` (without any framing), encoded on first use.
    pub fn payload(&self, format: Format) -> &Bytes {
        match format {
            Format::Protobuf => self
                .protobuf
                .get_or_init(|| Bytes::from(self.msg.encode_to_vec())),
            Format::Json => self.json.get_or_init(|| {
                // Serializing a Msg cannot fail: every field is a string or a number.
                Bytes::from(serde_json::to_vec(&self.msg).unwrap_or_default())
            }),
        }
    }
}

/// Two frames are equal when their messages are (the encodings follow from the message).
impl PartialEq for Encoded {
    fn eq(&self, other: &Self) -> bool {
        self.msg == other.msg
    }
}

impl From<Msg> for Encoded {
    fn from(msg: Msg) -> Self {
        Encoded::new(msg)
    }
}
