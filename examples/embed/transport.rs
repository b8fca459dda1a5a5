//! The example's own wire: JSON lines over any byte stream (TCP in `main`, an in-process pipe
//! in `check`).
//!
//! A line whose JSON object has an `"op"` field is a domain call (see [`crate::ops`]) and is
//! answered by one JSON line `{"op":..,"ok":..}` or `{"op":..,"error":..}`. Any other line is
//! an IM frame (a `Msg` in JSON): the first one opens the connection's IM session (so it must
//! be the `KEEP_ALIVE` login frame), and the session's frames are written back as JSON lines,
//! interleaved with the answers to later calls. The connection closes when the peer closes its
//! side (after the session wrote what it still had) or when the session ends (an error that
//! closes, a timeout, shutdown).

use std::sync::Arc;

use bytes::Bytes;

use easyim_core::{Engine, Im, Outbox};
use easyim_proto::{
    decode_as, CodecError, Encoded, Format, LinesCodec, Msg, DEFAULT_MAX_FRAME_BYTES,
};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec as TextLines};

/// How many decoded frames may wait for the session: the session reads them as they come, so
/// this only smooths bursts; a full queue makes the reader wait (backpressure on the peer).
const SESSION_INPUT: usize = 64;

/// The IM session of one connection, opened by its first IM frame.
struct Session {
    /// The session's input; dropping it ends the session's stream.
    input: mpsc::Sender<Result<Msg, CodecError>>,
    outbox: Outbox,
}

impl Session {
    fn open(engine: &Engine) -> Session {
        let (conn, outbox) = engine.open();
        let (input, mut rx) = mpsc::channel(SESSION_INPUT);
        let frames = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        tokio::spawn(conn.run(frames));
        Session { input, outbox }
    }
}

/// What one input line is.
enum Line {
    /// A domain call: the JSON object with its `"op"`.
    Op(serde_json::Map<String, Value>),
    /// An IM frame for the session, or why it is not one (the session answers that).
    Frame(Result<Msg, CodecError>),
}

fn classify(line: &str) -> Option<Line> {
    let text = line.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(Value::Object(call)) = serde_json::from_str::<Value>(text) {
        if call.contains_key("op") {
            return Some(Line::Op(call));
        }
    }
    Some(Line::Frame(decode_as(text.as_bytes(), Format::Json)))
}

/// Serves one connection until it closes.
pub(crate) async fn serve_lines<R, W>(im: Im, reader: R, writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = FramedRead::new(
        reader,
        TextLines::new_with_max_length(DEFAULT_MAX_FRAME_BYTES),
    );
    let mut sink = FramedWrite::new(writer, LinesCodec::default());
    let mut session: Option<Session> = None;
    loop {
        tokio::select! {
            line = lines.next() => {
                let line = match line {
                    None => break,
                    Some(Ok(line)) => line,
                    Some(Err(e)) => {
                        // Too long a line or a read error: the line framing is lost.
                        let answer = serde_json::json!({"error": e.to_string()});
                        let _ = sink.send(json_line(&answer)).await;
                        break;
                    }
                };
                match classify(&line) {
                    None => {}
                    Some(Line::Op(call)) => {
                        let answer = crate::ops::call(&im, &call).await;
                        if sink.send(json_line(&answer)).await.is_err() {
                            return;
                        }
                    }
                    Some(Line::Frame(frame)) => {
                        let s = session.get_or_insert_with(|| Session::open(im.engine()));
                        if s.input.send(frame).await.is_err() {
                            break; // The session is over; its outbox says the rest.
                        }
                    }
                }
            }
            frame = next_frame(&mut session) => match frame {
                Some(frame) => {
                    if !write_frame(&mut sink, session.as_ref(), &frame).await {
                        return;
                    }
                }
                None => return close(sink).await,
            },
        }
    }
    // The peer is done sending: end the session's input, then write what it still queues.
    if let Some(Session { input, mut outbox }) = session {
        drop(input);
        while let Some(frame) = outbox.recv().await {
            let payload = frame.payload(Format::Json).clone();
            let written = tokio::select! {
                _ = outbox.aborted() => false,
                r = sink.send(payload) => r.is_ok(),
            };
            if !written {
                return;
            }
        }
    }
    close(sink).await;
}

/// A JSON value as the payload of one line.
fn json_line(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// The session's next frame; never resolves while there is no session.
async fn next_frame(session: &mut Option<Session>) -> Option<Arc<Encoded>> {
    match session {
        Some(s) => s.outbox.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes one session frame; false if the peer is gone, or too slow and dropped by the engine.
async fn write_frame<W>(
    sink: &mut FramedWrite<W, LinesCodec>,
    session: Option<&Session>,
    frame: &Encoded,
) -> bool
where
    W: AsyncWrite + Unpin,
{
    let payload = frame.payload(Format::Json).clone();
    let Some(s) = session else { return false };
    tokio::select! {
        _ = s.outbox.aborted() => false,
        r = sink.send(payload) => r.is_ok(),
    }
}

/// Closes the write side so the peer sees the end.
async fn close<W: AsyncWrite + Unpin>(mut sink: FramedWrite<W, LinesCodec>) {
    let _ = SinkExt::<bytes::Bytes>::close(&mut sink).await;
}
