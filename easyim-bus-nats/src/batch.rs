//! The `batch` subject: every event a node publishes travels in a batch, many events to one
//! NATS message, so a busy node pays NATS's per-message cost (a command to the client task, a
//! frame, the server's routing, the receiver's channel) once per batch instead of once per
//! delivery.
//!
//! ```text
//! batch  := 0x01 varint(node) varint(instance) entry*
//! entry  := kind:u8 varint(len) body[len]          kind 0 deliver, 1 revoke, 2 presence
//! deliver body := varint(n) varint(user)*n key msg
//!   key  := 0x00                                   (receipts and notices)
//!         | 0x01 varint(low) varint(high) varint(conv_seq)   (a direct conversation)
//!         | 0x02 varint(group) varint(conv_seq)               (a group)
//!   msg  := the frame's protobuf encoding (protocol.md), to the end of the body
//! revoke and presence bodies := the JSON payload of their own subject (wire.rs)
//! ```
//!
//! A deliver entry carries the frame's protobuf bytes, encoded once on the sending node (and
//! shared with its protobuf connections), and the receiver keeps those bytes for its own
//! protobuf connections: nothing is encoded twice. The first byte is the format; a reader
//! that meets another refuses the batch (counted as malformed).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use easyim_core::{BusEvent, Conversation};
use easyim_proto::{Encoded, Format};
use prost::encoding::{decode_varint, encode_varint};

use crate::wire::{self, Kind, Origin};

/// The last token of the subject batches go to.
pub(crate) const SUBJECT: &str = "batch";

/// The format byte of a batch.
const FORMAT: u8 = 1;

/// The most events in one batch.
pub(crate) const MAX_EVENTS: usize = 512;

/// A batch is closed once it passes this many bytes (NATS refuses payloads over its
/// `max_payload`, 1 MiB by default).
pub(crate) const MAX_BYTES: usize = 256 * 1024;

/// A batch being filled.
#[derive(Debug)]
pub(crate) struct BatchWriter {
    buf: BytesMut,
    header: usize,
    events: usize,
    /// An entry's body while it is written (its length goes first): kept between entries, so
    /// an entry allocates nothing once the writer has warmed up.
    body: BytesMut,
}

impl BatchWriter {
    /// An empty batch from `origin`.
    pub(crate) fn new(origin: Origin) -> Self {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        buf.put_u8(FORMAT);
        encode_varint(u64::from(origin.node), &mut buf);
        encode_varint(origin.instance, &mut buf);
        BatchWriter {
            header: buf.len(),
            buf,
            events: 0,
            body: BytesMut::new(),
        }
    }

    /// Adds `event`.
    pub(crate) fn push(&mut self, event: &BusEvent, origin: Origin) {
        let body = &mut self.body;
        body.clear();
        let kind = match event {
            BusEvent::Deliver { users, frame, key } => {
                encode_varint(users.len() as u64, body);
                for &u in users {
                    encode_varint(u, body);
                }
                match key {
                    None => body.put_u8(0),
                    Some((Conversation::Direct { low, high }, seq)) => {
                        body.put_u8(1);
                        encode_varint(*low, body);
                        encode_varint(*high, body);
                        encode_varint(*seq, body);
                    }
                    Some((Conversation::Group(g), seq)) => {
                        body.put_u8(2);
                        encode_varint(*g, body);
                        encode_varint(*seq, body);
                    }
                }
                body.put_slice(frame.payload(Format::Protobuf));
                Kind::Deliver
            }
            other => {
                let (kind, json) = wire::encode(other, origin);
                body.put_slice(&json);
                kind
            }
        };
        self.buf.put_u8(kind_byte(kind));
        encode_varint(body.len() as u64, &mut self.buf);
        self.buf.put_slice(&self.body);
        self.events += 1;
    }

    /// Events in the batch.
    pub(crate) fn len(&self) -> usize {
        self.events
    }

    /// Whether the batch should be sent before another event is added.
    pub(crate) fn full(&self) -> bool {
        self.events >= MAX_EVENTS || self.buf.len() >= MAX_BYTES
    }

    /// The payload, leaving the batch empty for reuse.
    pub(crate) fn take(&mut self) -> Bytes {
        let header = Bytes::copy_from_slice(&self.buf[..self.header]);
        let payload = std::mem::take(&mut self.buf).freeze();
        self.buf = BytesMut::with_capacity(16 * 1024);
        self.buf.put_slice(&header);
        self.events = 0;
        payload
    }
}

fn kind_byte(kind: Kind) -> u8 {
    match kind {
        Kind::Deliver => 0,
        Kind::Revoke => 1,
        Kind::Presence => 2,
    }
}

/// A batch that cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// The first byte is not [`FORMAT`].
    #[error("batch format {0} is not known")]
    Format(u8),
    /// Ends inside a header or an entry.
    #[error("batch cut short")]
    Short,
    /// A varint or a protobuf frame that does not decode.
    #[error("batch entry does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A node id past `u16`.
    #[error("batch node id out of range")]
    Node,
    /// An entry of an unknown kind or a bad conversation key.
    #[error("batch entry of unknown kind or key {0}")]
    Unknown(u8),
    /// A revoke or presence body that is not its subject's JSON.
    #[error("batch entry: {0}")]
    Json(#[from] serde_json::Error),
}

/// Reads a batch: its origin and its events, in order.
pub(crate) fn decode(payload: &Bytes) -> Result<(Origin, Vec<BusEvent>), BatchError> {
    let mut buf = payload.clone();
    if !buf.has_remaining() {
        return Err(BatchError::Short);
    }
    let format = buf.get_u8();
    if format != FORMAT {
        return Err(BatchError::Format(format));
    }
    let node = u16::try_from(decode_varint(&mut buf)?).map_err(|_| BatchError::Node)?;
    let instance = decode_varint(&mut buf)?;
    let mut events = Vec::new();
    while buf.has_remaining() {
        let kind = buf.get_u8();
        let len = usize::try_from(decode_varint(&mut buf)?).map_err(|_| BatchError::Short)?;
        if buf.remaining() < len {
            return Err(BatchError::Short);
        }
        let body = buf.split_to(len);
        events.push(match kind {
            0 => deliver(body)?,
            1 => wire::decode(Kind::Revoke, &body)?.1,
            2 => wire::decode(Kind::Presence, &body)?.1,
            k => return Err(BatchError::Unknown(k)),
        });
    }
    Ok((Origin { node, instance }, events))
}

fn deliver(mut body: Bytes) -> Result<BusEvent, BatchError> {
    let n = decode_varint(&mut body)?;
    // Each user takes at least a byte: a count past what is left is a lie, not an allocation.
    if n > body.remaining() as u64 {
        return Err(BatchError::Short);
    }
    let mut users = Vec::with_capacity(n as usize);
    for _ in 0..n {
        users.push(decode_varint(&mut body)?);
    }
    if !body.has_remaining() {
        return Err(BatchError::Short);
    }
    let key = match body.get_u8() {
        0 => None,
        1 => {
            let low = decode_varint(&mut body)?;
            let high = decode_varint(&mut body)?;
            Some((Conversation::direct(low, high), decode_varint(&mut body)?))
        }
        2 => {
            let group = decode_varint(&mut body)?;
            Some((Conversation::Group(group), decode_varint(&mut body)?))
        }
        k => return Err(BatchError::Unknown(k)),
    };
    Ok(BusEvent::Deliver {
        users,
        frame: Arc::new(Encoded::from_protobuf(body)?),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use easyim_proto::Msg;

    const ORIGIN: Origin = Origin {
        node: 3,
        instance: 0xdead_beef_0000_0001,
    };

    fn msg() -> Msg {
        Msg {
            id: "m-1".into(),
            from_user_id: "10".into(),
            to_user_id: "7".into(),
            chat_type: 1,
            content: "héllo".into(),
            conv_seq: u64::MAX,
            ..Msg::default()
        }
    }

    fn every_kind() -> Vec<BusEvent> {
        vec![
            BusEvent::Deliver {
                users: vec![1, u64::MAX],
                frame: Arc::new(Encoded::new(msg())),
                key: Some((Conversation::Group(7), 42)),
            },
            BusEvent::Deliver {
                users: vec![5],
                frame: Arc::new(Encoded::new(msg())),
                key: Some((Conversation::direct(9, 4), 1)),
            },
            BusEvent::Deliver {
                users: vec![],
                frame: Arc::new(Encoded::new(Msg::default())),
                key: None,
            },
            BusEvent::Revoke { user: 77 },
            BusEvent::Presence {
                instance: 5,
                user: 77,
                online: true,
                at: 1_700_000_000_000,
            },
            BusEvent::Alive {
                instance: 5,
                resync: false,
            },
            BusEvent::Snapshot {
                instance: 5,
                users: vec![1, 2],
            },
        ]
    }

    #[test]
    fn a_batch_of_every_kind_round_trips_in_order() {
        let mut w = BatchWriter::new(ORIGIN);
        let events = every_kind();
        for e in &events {
            w.push(e, ORIGIN);
        }
        assert_eq!(w.len(), events.len());
        let payload = w.take();
        assert_eq!(w.len(), 0);
        let (origin, back) = decode(&payload).unwrap();
        assert_eq!(origin, ORIGIN);
        assert_eq!(back, events);
        // The writer is reusable: its next batch has the same header and nothing else.
        w.push(&BusEvent::Revoke { user: 1 }, ORIGIN);
        let (origin, back) = decode(&w.take()).unwrap();
        assert_eq!((origin, back), (ORIGIN, vec![BusEvent::Revoke { user: 1 }]));
    }

    #[test]
    fn a_delivered_frame_keeps_the_senders_protobuf_bytes() {
        let frame = Arc::new(Encoded::new(msg()));
        let sent = frame.payload(Format::Protobuf).clone();
        let mut w = BatchWriter::new(ORIGIN);
        w.push(
            &BusEvent::Deliver {
                users: vec![1],
                frame,
                key: None,
            },
            ORIGIN,
        );
        let (_, back) = decode(&w.take()).unwrap();
        let BusEvent::Deliver { frame, .. } = &back[0] else {
            panic!("not a delivery: {back:?}");
        };
        assert_eq!(frame.payload(Format::Protobuf), &sent);
        assert_eq!(frame.msg(), &msg());
    }

    #[test]
    fn a_batch_closes_at_its_bounds() {
        let mut w = BatchWriter::new(ORIGIN);
        for _ in 0..MAX_EVENTS - 1 {
            w.push(&BusEvent::Revoke { user: 1 }, ORIGIN);
        }
        assert!(!w.full());
        w.push(&BusEvent::Revoke { user: 1 }, ORIGIN);
        assert!(w.full());
        w.take();
        let big = Msg {
            content: "x".repeat(MAX_BYTES),
            ..Msg::default()
        };
        w.push(
            &BusEvent::Deliver {
                users: vec![1],
                frame: Arc::new(Encoded::new(big)),
                key: None,
            },
            ORIGIN,
        );
        assert!(w.full());
    }

    #[test]
    fn damaged_batches_are_errors_not_panics() {
        let mut w = BatchWriter::new(ORIGIN);
        for e in &every_kind() {
            w.push(e, ORIGIN);
        }
        let payload = w.take();
        // Every prefix of a good batch either reads (it ends between entries) or is refused.
        for cut in 0..payload.len() {
            let _ = decode(&payload.slice(..cut));
        }
        assert!(matches!(
            decode(&Bytes::from_static(&[9, 1, 1])),
            Err(BatchError::Format(9))
        ));
        assert!(decode(&Bytes::new()).is_err());
        // A deliver entry claiming more users than it has bytes.
        let lie = Bytes::from_static(&[FORMAT, 1, 1, 0, 3, 0xff, 0xff, 0x7f]);
        assert!(decode(&lie).is_err());
        // A delivery whose frame is not a Msg (a string that is not UTF-8): refused now,
        // though the Msg itself is only built when a JSON connection asks for it.
        let bad_frame = Bytes::from_static(&[FORMAT, 1, 1, 0, 5, 0, 0, 0x0a, 0x01, 0xff]);
        assert!(matches!(decode(&bad_frame), Err(BatchError::Decode(_))));
        // An unknown entry kind.
        assert!(matches!(
            decode(&Bytes::from_static(&[FORMAT, 1, 1, 7, 0])),
            Err(BatchError::Unknown(7))
        ));
    }
}
