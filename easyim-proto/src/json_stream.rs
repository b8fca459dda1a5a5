//! JSON objects one after another on a socket, with or without whitespace or newlines between
//! them (protocol.md section 2), as the original accepted them.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{decode_as, put_line, Format, FormatPolicy, DEFAULT_MAX_FRAME_BYTES};
use crate::{CodecError, Msg};

/// A reader of back-to-back JSON objects: it finds where each top-level object ends (its
/// closing brace, outside strings) without parsing it, then decodes it as a `Msg`.
///
/// The bytes between objects may be whitespace only; anything else is
/// [`CodecError::Undecodable`]. An object longer than the limit is refused as soon as the
/// buffered part passes it. The scan resumes where the last read stopped, so a large object
/// arriving a byte at a time is scanned once. Encodes a JSON payload followed by `\n`.
#[derive(Debug, Clone)]
pub struct JsonStreamCodec {
    max_frame: usize,
    policy: FormatPolicy,
    scan: Scan,
}

/// Where the scan of the current object is.
#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    /// Bytes of the buffer already looked at.
    pos: usize,
    /// Where the current object starts (its `{`), once seen.
    start: Option<usize>,
    /// Open braces and brackets.
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl JsonStreamCodec {
    /// A codec that refuses objects over `max_frame` bytes. With `FormatPolicy::Protobuf`
    /// every object is refused.
    pub fn new(max_frame: usize, policy: FormatPolicy) -> Self {
        JsonStreamCodec {
            max_frame,
            policy,
            scan: Scan::default(),
        }
    }

    /// Moves the scan forward; the end (exclusive) of the first whole object, if there is one.
    fn find_end(&mut self, src: &[u8]) -> Result<Option<usize>, CodecError> {
        let s = &mut self.scan;
        if s.pos > src.len() {
            // Not the buffer that was scanned (a caller started over).
            *s = Scan::default();
        }
        while s.pos < src.len() {
            let b = src[s.pos];
            s.pos += 1;
            if s.start.is_none() {
                if b.is_ascii_whitespace() {
                    continue;
                }
                if b != b'{' {
                    return Err(CodecError::Undecodable {
                        format: Format::Json,
                        reason: format!("expected a JSON object, found byte {b:#04x}"),
                    });
                }
                s.start = Some(s.pos - 1);
                s.depth = 1;
                continue;
            }
            if s.in_string {
                if s.escaped {
                    s.escaped = false;
                } else if b == b'\\' {
                    s.escaped = true;
                } else if b == b'"' {
                    s.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => s.in_string = true,
                b'{' | b'[' => s.depth += 1,
                b'}' | b']' => {
                    s.depth = s.depth.saturating_sub(1);
                    if s.depth == 0 {
                        return Ok(Some(s.pos));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

impl Default for JsonStreamCodec {
    fn default() -> Self {
        JsonStreamCodec::new(DEFAULT_MAX_FRAME_BYTES, FormatPolicy::Auto)
    }
}

impl Decoder for JsonStreamCodec {
    type Item = (Msg, Format);
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        let Some(end) = self.find_end(src)? else {
            match self.scan.start {
                Some(start) => {
                    let pending = src.len() - start;
                    if pending > self.max_frame {
                        return Err(CodecError::TooLarge {
                            len: pending,
                            max: self.max_frame,
                        });
                    }
                }
                // Only whitespace so far: nothing to keep.
                None => {
                    src.clear();
                    self.scan = Scan::default();
                }
            }
            return Ok(None);
        };
        let start = self.scan.start.unwrap_or(0);
        self.scan = Scan::default();
        let chunk = src.split_to(end);
        let object = &chunk[start..];
        if object.len() > self.max_frame {
            return Err(CodecError::TooLarge {
                len: object.len(),
                max: self.max_frame,
            });
        }
        if !self.policy.allows(Format::Json) {
            return Err(CodecError::FormatNotAllowed {
                format: Format::Json,
                policy: self.policy,
            });
        }
        decode_as(object, Format::Json).map(|m| Some((m, Format::Json)))
    }

    /// At the end of the stream, an object that never closed is a bad frame; trailing
    /// whitespace is nothing.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if self.scan.start.is_none() {
            return Ok(None);
        }
        self.scan = Scan::default();
        let rest = src.split();
        decode_as(rest.trim_ascii(), Format::Json).map(|m| Some((m, Format::Json)))
    }
}

impl Encoder<Bytes> for JsonStreamCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}

impl Encoder<&[u8]> for JsonStreamCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        put_line(payload, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn all(c: &mut JsonStreamCodec, buf: &mut BytesMut) -> Vec<String> {
        let mut ids = Vec::new();
        while let Some((m, _)) = c.decode(buf).unwrap() {
            ids.push(m.id);
        }
        ids
    }

    #[test]
    fn objects_back_to_back_with_or_without_separators() {
        let mut c = JsonStreamCodec::default();
        let mut buf = BytesMut::from(
            &br#"{"id":"a"}{"id":"b","content":"} { \" ]"}  {"id":"c","x":[{"y":1}]}
{"id":"d"}"#[..],
        );
        assert_eq!(all(&mut c, &mut buf), ["a", "b", "c", "d"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn byte_by_byte_and_eof() {
        let text = br#" {"id":"a","content":"x\\"}{"id":"b"}"#;
        let mut c = JsonStreamCodec::default();
        let mut buf = BytesMut::new();
        let mut ids = Vec::new();
        for b in text {
            buf.put_u8(*b);
            ids.extend(all(&mut c, &mut buf));
        }
        assert_eq!(ids, ["a", "b"]);
        buf.extend_from_slice(b"\n \r\n");
        assert!(c.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn errors() {
        let mut c = JsonStreamCodec::new(16, FormatPolicy::Auto);
        let mut buf = BytesMut::from(&br#"{"id":"0123456789"#[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::TooLarge { .. })
        ));
        let mut c = JsonStreamCodec::default();
        let mut buf = BytesMut::from(&b"{}x"[..]);
        assert!(c.decode(&mut buf).unwrap().is_some());
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::Undecodable { .. })
        ));
        let mut c = JsonStreamCodec::default();
        let mut buf = BytesMut::from(&br#"{"seq":"x"}"#[..]);
        assert!(c.decode(&mut buf).is_err());
        let mut c = JsonStreamCodec::new(64, FormatPolicy::Protobuf);
        let mut buf = BytesMut::from(&b"{}"[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(CodecError::FormatNotAllowed { .. })
        ));
        let mut c = JsonStreamCodec::default();
        let mut buf = BytesMut::from(&br#"{"id":"#[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(c.decode_eof(&mut buf).is_err());
    }
}
