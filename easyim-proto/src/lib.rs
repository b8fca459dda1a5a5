//! The easyim wire format (protocol.md sections 1, 2 and 6).
//!
//! - [`Msg`]: the one message type, generated from `proto/msg.proto` by prost, with its JSON
//!   form (field names, enums as integers on output, integers or names on input).
//! - [`FramedCodec`] and [`LinesCodec`]: tokio-util codecs for framed TCP (4-byte big-endian
//!   length, then a protobuf or JSON payload) and for JSON lines, with an explicit payload limit
//!   and the `MSG_FORMAT` policy; [`RawCodec`] for raw protobuf (no prefix, one message per
//!   write, as the original) and [`JsonStreamCodec`] for JSON objects back to back.
//! - [`Encoded`]: a message encoded once per wire format, shared by every connection it goes to.
//! - [`frames`]: builders for the frames the server sends (login success, ack, NOTIFY errors).
//!
//! This crate knows nothing of tokio's runtime: it only uses `bytes`, `prost`, `serde` and
//! tokio-util's codec traits.

mod check;
mod codec;
mod encoded;
mod error;
pub mod frames;
mod json;
mod json_stream;
mod raw;

/// Types generated from `proto/msg.proto` (protobuf package `model`).
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

pub use codec::{
    decode_as, detect_format, Format, FormatPolicy, FramedCodec, LinesCodec,
    DEFAULT_MAX_FRAME_BYTES,
};
pub use encoded::Encoded;
pub use error::{CodecError, ErrorCode};
pub use json_stream::JsonStreamCodec;
pub use model::msg::{ChatType, MsgStatus, MsgType};
pub use model::Msg;
pub use raw::{is_raw_start, RawCodec, RAW_FIRST_BYTES};

/// The event id of the login and heartbeat event (`to_user_id` from a client,
/// `from_user_id` from the server).
pub const KEEP_ALIVE: &str = "KEEP_ALIVE";

/// The `from_user_id` of every error frame the server sends.
pub const NOTIFY_SENDER: &str = "notify";
