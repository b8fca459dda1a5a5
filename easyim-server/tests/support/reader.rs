//! The reading half of a [`super::Client`]: a task that cuts what the connection receives
//! into frames and hands them over in order, until the connection ends or nobody listens.

use easyim_proto::{decode_as, Format, Msg};
use futures::stream::SplitStream;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::{AnyStream, Kind};

/// What the reading task hands over.
#[derive(Debug)]
pub(super) enum Incoming {
    /// The payload of one frame or line (without its header or line end).
    Payload(Vec<u8>),
    Ws(WsMessage),
    /// The connection ended in the middle of a frame.
    Broken,
}

/// The frames a connection received, in order; the reading task stops when this is dropped.
#[derive(Debug)]
pub struct Frames {
    rx: mpsc::UnboundedReceiver<Incoming>,
    /// Dropping it stops the reading task, which closes the connection for good: without it,
    /// a dropped WebSocket client would stay open.
    _stop: Option<oneshot::Sender<()>>,
}

impl Frames {
    /// The next frame as JSON, or `None` at the end of the connection; waits as long as it
    /// takes.
    pub async fn read_json(&mut self) -> Option<Value> {
        loop {
            let bytes = match self.rx.recv().await? {
                Incoming::Payload(p) => p,
                Incoming::Ws(WsMessage::Text(t)) => t.as_bytes().to_vec(),
                Incoming::Ws(WsMessage::Binary(_)) => panic!("a binary answer to JSON"),
                Incoming::Ws(WsMessage::Close(_)) => return None,
                Incoming::Ws(_) => continue,
                Incoming::Broken => panic!("partial frame at the end"),
            };
            return Some(serde_json::from_slice(&bytes).expect("the server sends JSON"));
        }
    }
}

impl Frames {
    /// Frames of no connection: the end at once.
    pub(super) fn closed() -> Frames {
        let (_, rx) = mpsc::unbounded_channel();
        Frames { rx, _stop: None }
    }

    /// The next thing received, or `None` at the end.
    pub(super) async fn next(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }
}

/// Reads JSON lines (`lines`) or length-prefixed frames from `r`.
pub(super) fn read_tcp<R>(mut r: R, lines: bool) -> Frames
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
        loop {
            while let Some(p) = cut(lines, &mut buf) {
                if tx.send(Incoming::Payload(p)).is_err() {
                    return;
                }
            }
            let n = tokio::select! {
                _ = &mut stopped => return,
                n = r.read(&mut chunk) => n.unwrap_or(0),
            };
            if n == 0 {
                if !buf.is_empty() {
                    let _ = tx.send(Incoming::Broken);
                }
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    });
    Frames {
        rx,
        _stop: Some(stop),
    }
}

/// Reads WebSocket messages from `r`.
pub(super) fn read_ws(mut r: SplitStream<WebSocketStream<AnyStream>>) -> Frames {
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                _ = &mut stopped => return,
                m = r.next() => m,
            };
            let Some(Ok(m)) = m else { return };
            if tx.send(Incoming::Ws(m)).is_err() {
                return;
            }
        }
    });
    Frames {
        rx,
        _stop: Some(stop),
    }
}

/// Cuts one whole line (without its end) or frame payload from the front of `buf`.
fn cut(lines: bool, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    if lines {
        let end = buf.iter().position(|&b| b == b'\n')?;
        let mut line: Vec<u8> = buf.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Some(line);
    }
    let n = u32::from_be_bytes(buf.get(..4)?.try_into().unwrap()) as usize;
    if buf.len() < 4 + n {
        return None;
    }
    Some(buf.drain(..4 + n).skip(4).collect())
}

/// Decodes a TCP payload, checking it came in `kind`'s format.
pub(super) fn decode(kind: Kind, payload: &[u8]) -> Msg {
    if kind == Kind::Lines {
        assert_eq!(payload.first(), Some(&b'{'), "a JSON line");
        return decode_as(payload, Format::Json).unwrap();
    }
    let format = if kind == Kind::FramedJson {
        Format::Json
    } else {
        Format::Protobuf
    };
    assert_eq!(
        easyim_proto::detect_format(payload),
        format,
        "{kind:?}: answered in the wrong format"
    );
    decode_as(payload, format).unwrap()
}
