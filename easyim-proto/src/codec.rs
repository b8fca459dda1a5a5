//! Framing codecs (protocol.md section 2).

use std::fmt;
use std::str::FromStr;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

use crate::{CodecError, Msg};

/// The default `MAX_FRAME_BYTES`: the largest payload one frame may carry.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

/// A payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A protobuf-encoded `Msg`.
    Protobuf,
    /// A JSON object (protocol.md section 1, "JSON form").
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Protobuf => "protobuf",
            Format::Json => "json",
        })
    }
}

/// Tells a payload's format: JSON starts with `{`, which no protobuf `Msg` does (0x7B would be
/// field 15 with wire type 3, which `Msg` never writes).
pub fn detect_format(payload: &[u8]) -> Format {
    if payload.first() == Some(&b'{') {
        Format::Json
    } else {
        Format::Protobuf
    }
}

/// What `MSG_FORMAT` lets clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatPolicy {
    /// Either format, told apart per frame (the default).
    #[default]
    Auto,
    /// JSON only, as the original's `MSG_FORMAT = "json"`.
    Json,
    /// Protobuf only, as the original's default.
    Protobuf,
}

impl FormatPolicy {
    /// Whether a payload in `format` is accepted.
    pub fn allows(self, format: Format) -> bool {
        match self {
            FormatPolicy::Auto => true,
            FormatPolicy::Json => format == Format::Json,
            FormatPolicy::Protobuf => format == Format::Protobuf,
        }
    }

    /// Decodes one payload in the format it declares, if the policy allows it.
    pub fn decode(self, payload: &[u8]) -> Result<(Msg, Format), CodecError> {
        let format = detect_format(payload);
        if !self.allows(format) {
            return Err(CodecError::FormatNotAllowed {
                format,
                policy: self,
            });
        }
        decode_as(payload, format).map(|m| (m, format))
    }
}

/// Decodes a payload as `format`, without looking at the policy (a WebSocket text message is
/// JSON and a binary one protobuf, whatever the first byte).
pub fn decode_as(payload: &[u8], format: Format) -> Result<Msg, CodecError> {
    match format {
        Format::Protobuf => Msg::decode(payload).map_err(|e| CodecError::Undecodable {
            format,
            reason: e.to_string(),
        }),
        Format::Json => serde_json::from_slice(payload).map_err(|e| CodecError::Undecodable {
            format,
            reason: e.to_string(),
        }),
    }
}

impl fmt::Display for FormatPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormatPolicy::Auto => "auto",
            FormatPolicy::Json => "json",
            FormatPolicy::Protobuf => "protobuf",
        })
    }
}

impl FromStr for FormatPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(FormatPolicy::Auto),
            "json" => Ok(FormatPolicy::Json),
            "protobuf" | "proto" | "pb" => Ok(FormatPolicy::Protobuf),
            other => Err(format!(
                "unknown message format {other:?} (expected auto, json or protobuf)"
            )),
        }
    }
}

/// Framed TCP: a 4-byte big-endian length N, then N bytes of payload.
///
/// Decodes to `(Msg, Format)`; encodes an already encoded payload (see [`crate::Encoded`]).
/// A length over the limit is refused as soon as the header is read, before any of the payload
/// is buffered.
#[derive(Debug, Clone)]
pub struct FramedCodec {
    max_frame: usize,
    policy: FormatPolicy,
}

impl FramedCodec {
    /// A codec that refuses payloads over `max_frame` bytes and formats `policy` refuses.
    pub fn new(max_frame: usize, policy: FormatPolicy) -> Self {
        FramedCodec { max_frame, policy }
    }
}

impl Default for FramedCodec {
    fn default() -> Self {
        FramedCodec::new(DEFAULT_MAX_FRAME_BYTES, FormatPolicy::Auto)
    }
}

impl Decoder for FramedCodec {
    type Item = (Msg, Format);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > self.max_frame {
            return Err(CodecError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        if src.len() < 4 + len {
            // No reserve for the announced length: a peer that announces 64 KiB and sends
            // nothing more must not pin 64 KiB; the buffer grows as bytes arrive.
            return Ok(None);
        }
        src.advance(4);
        let payload = src.split_to(len);
        self.policy.decode(&payload).map(Some)
    }
}

impl Encoder<Bytes> for FramedCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}

impl Encoder<&[u8]> for FramedCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = u32::try_from(payload.len()).map_err(|_| CodecError::TooLarge {
            len: payload.len(),
            max: u32::MAX as usize,
        })?;
        dst.reserve(4 + payload.len());
        dst.put_u32(len);
        dst.put_slice(payload);
        Ok(())
    }
}

/// JSON lines: one JSON `Msg` per `\n`-terminated line (`\r\n` accepted, blank lines skipped).
///
/// A line longer than the limit is refused as soon as the buffered bytes pass it without a
/// newline. Encodes a JSON payload by appending `\n`.
#[derive(Debug, Clone)]
pub struct LinesCodec {
    max_frame: usize,
    policy: FormatPolicy,
    /// How far the buffer was already searched for `\n`, so a long line is scanned once.
    scanned: usize,
}

impl LinesCodec {
    /// A codec that refuses lines over `max_frame` bytes. With `FormatPolicy::Protobuf` every
    /// line is refused, since a line is always JSON.
    pub fn new(max_frame: usize, policy: FormatPolicy) -> Self {
        LinesCodec {
            max_frame,
            policy,
            scanned: 0,
        }
    }
}

impl Default for LinesCodec {
    fn default() -> Self {
        LinesCodec::new(DEFAULT_MAX_FRAME_BYTES, FormatPolicy::Auto)
    }
}

impl LinesCodec {
    /// Decodes one line, without its terminator; `None` for a blank line.
    fn decode_line(&self, line: &[u8]) -> Result<Option<(Msg, Format)>, CodecError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_frame {
            return Err(CodecError::TooLarge {
                len: line.len(),
                max: self.max_frame,
            });
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            return Ok(None);
        }
        if !self.policy.allows(Format::Json) {
            return Err(CodecError::FormatNotAllowed {
                format: Format::Json,
                policy: self.policy,
            });
        }
        decode_as(text, Format::Json).map(|m| Some((m, Format::Json)))
    }
}

impl Decoder for LinesCodec {
    type Item = (Msg, Format);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        loop {
            // A buffer shorter than what was scanned is not the one that was scanned (a caller
            // started over): search it from the start rather than index past its end.
            let from = if self.scanned > src.len() {
                0
            } else {
                self.scanned
            };
            let Some(pos) = src[from..].iter().position(|&b| b == b'\n') else {
                self.scanned = src.len();
                // The line so far is over the limit, not counting a trailing '\r' that may be
                // the start of its "\r\n".
                let pending = match src.last() {
                    Some(b'\r') => src.len() - 1,
                    _ => src.len(),
                };
                if pending > self.max_frame {
                    return Err(CodecError::TooLarge {
                        len: pending,
                        max: self.max_frame,
                    });
                }
                return Ok(None);
            };
            let end = from + pos;
            self.scanned = 0;
            let line = src.split_to(end + 1);
            match self.decode_line(&line[..end])? {
                Some(item) => return Ok(Some(item)),
                None => continue,
            }
        }
    }

    /// At the end of the stream, a last line without its `\n` is still a line (as `printf`
    /// piped into `nc` sends it); trailing blanks are nothing.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        self.scanned = 0;
        let line = src.split();
        self.decode_line(&line)
    }
}

impl Encoder<Bytes> for LinesCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}

impl Encoder<&[u8]> for LinesCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        put_line(payload, dst);
        Ok(())
    }
}

/// Writes `payload` and a newline: how every JSON reply goes out on a raw TCP connection.
pub(crate) fn put_line(payload: &[u8], dst: &mut BytesMut) {
    dst.reserve(payload.len() + 1);
    dst.put_slice(payload);
    dst.put_u8(b'\n');
}
