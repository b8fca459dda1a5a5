//! The long-lived connection kinds of the IM port (protocol.md section 2): framed TCP, JSON
//! objects and raw protobuf over a socket, and WebSocket. Each one turns its bytes into a
//! stream of decoded frames for the core's session, and writes what the session's [`Outbox`]
//! yields.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use bytes::BytesMut;
use easyim_core::{Engine, Outbox};
use easyim_proto::{
    CodecError, Encoded, Format, FormatPolicy, FramedCodec, JsonStreamCodec, Msg, RawCodec,
};
use futures::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder, FramedRead};

/// A peer that takes longer than this to accept a batch of writes is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes are batched up to about this many bytes.
const WRITE_BATCH: usize = 64 * 1024;
/// The read buffer a connection starts with; it grows for larger frames. Small, because
/// idle connections are most of them.
const READ_BUFFER: usize = 512;
/// The room a raw protobuf connection reads into: the original's read size, so that what a
/// client wrote at once is read at once.
const RAW_READ: usize = 4096;

const UNKNOWN: u8 = 0;
const PROTOBUF: u8 = 1;
const JSON: u8 = 2;

fn format_code(f: Format) -> u8 {
    match f {
        Format::Protobuf => PROTOBUF,
        Format::Json => JSON,
    }
}

/// How frames are delimited on a byte stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// 4-byte big-endian length, then the payload; answers in the first frame's format.
    Length,
    /// JSON objects one after another, with or without newlines between them.
    Lines,
    /// Raw protobuf, as the original: each read is one message, each reply one write.
    Raw,
}

/// Runs one framed-TCP, JSON or raw protobuf connection to its end.
pub(crate) async fn serve_stream<S>(
    engine: Engine,
    stream: S,
    framing: Framing,
    max_frame: usize,
    policy: FormatPolicy,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(stream);
    let (conn, outbox) = engine.open();
    match framing {
        Framing::Length => {
            // The connection answers in the format of its first frame (protobuf until then).
            let format = Arc::new(AtomicU8::new(UNKNOWN));
            let seen = format.clone();
            let frames =
                FramedRead::with_capacity(r, FramedCodec::new(max_frame, policy), READ_BUFFER).map(
                    move |r| {
                        r.map(|(m, f)| {
                            let _ = seen.compare_exchange(
                                UNKNOWN,
                                format_code(f),
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                            m
                        })
                    },
                );
            let codec = FramedCodec::new(max_frame, policy);
            let writer = write_loop(w, codec, WRITE_BATCH, outbox, move |e: &Encoded| {
                let fmt = if format.load(Ordering::Relaxed) == JSON {
                    Format::Json
                } else {
                    Format::Protobuf
                };
                &e.payload(fmt)[..]
            });
            tokio::join!(conn.run(frames), writer);
        }
        Framing::Lines => {
            let frames =
                FramedRead::with_capacity(r, JsonStreamCodec::new(max_frame, policy), READ_BUFFER)
                    .map(|r| r.map(|(m, _)| m));
            let codec = JsonStreamCodec::new(max_frame, policy);
            let writer = write_loop(w, codec, WRITE_BATCH, outbox, |e: &Encoded| {
                &e.payload(Format::Json)[..]
            });
            tokio::join!(conn.run(frames), writer);
        }
        Framing::Raw => {
            let frames = raw_frames(r, RawCodec::new(max_frame, policy));
            // One message per write: a raw client reads one message per read.
            let writer = write_loop(w, RawCodec::new(max_frame, policy), 0, outbox, |e| {
                &e.payload(Format::Protobuf)[..]
            });
            tokio::join!(conn.run(Box::pin(frames)), writer);
        }
    }
}

/// The messages of a raw protobuf connection: each read, with what was kept of the reads
/// before it, is given to the codec as one message (protocol.md section 2).
fn raw_frames<R>(r: R, codec: RawCodec) -> impl Stream<Item = Result<Msg, CodecError>>
where
    R: AsyncRead + Unpin,
{
    futures::stream::unfold(Some((r, BytesMut::new(), codec)), |state| async move {
        let (mut r, mut buf, mut codec) = state?;
        loop {
            if buf.capacity() - buf.len() < RAW_READ {
                buf.reserve(RAW_READ);
            }
            let item = match r.read_buf(&mut buf).await {
                Ok(0) => match codec.decode_eof(&mut buf) {
                    Ok(Some((m, _))) => Ok(m),
                    Ok(None) => return None,
                    Err(e) => Err(e),
                },
                Ok(_) => match codec.decode(&mut buf) {
                    Ok(Some((m, _))) => Ok(m),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
                Err(e) => Err(CodecError::Io(e)),
            };
            // After an error the input ends; after a message the next read follows.
            let next = item.is_ok().then_some((r, buf, codec));
            return Some((item, next));
        }
    })
}

/// Writes what the outbox yields, framed by `codec`, up to about `batch` bytes of queued frames
/// per write (0: one frame per write), until the session is done; then closes the write side
/// (so the peer sees the end) after everything queued was written. `payload` picks a frame's
/// wire format.
///
/// The codec encodes straight into the write buffer (no `Sink` per frame): on the fan-out
/// path a writer handles hundreds of thousands of frames a second, and a poll per frame shows.
async fn write_loop<W, C, P>(mut w: W, mut codec: C, batch: usize, mut outbox: Outbox, payload: P)
where
    W: AsyncWrite + Unpin,
    C: for<'a> Encoder<&'a [u8], Error = CodecError>,
    P: Fn(&Encoded) -> &[u8],
{
    let mut buf = BytesMut::new();
    while let Some(frame) = outbox.recv().await {
        if fill(&mut buf, &mut codec, batch, &mut outbox, &frame, &payload).is_err() {
            return;
        }
        let ok = tokio::select! {
            biased;
            _ = outbox.aborted() => false,
            // The flush matters over TLS, which may keep records back until it.
            r = tokio::time::timeout(WRITE_TIMEOUT, async {
                w.write_all(&buf).await?;
                w.flush().await
            }) => matches!(r, Ok(Ok(()))),
        };
        if !ok {
            return;
        }
        buf.clear();
        if buf.capacity() > 4 * WRITE_BATCH {
            buf = BytesMut::new();
        }
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, w.shutdown()).await;
}

/// Encodes `first`, then what else is queued now, into `buf`, up to about `batch` bytes.
fn fill<C, P>(
    buf: &mut BytesMut,
    codec: &mut C,
    batch: usize,
    outbox: &mut Outbox,
    first: &Encoded,
    payload: &P,
) -> Result<(), CodecError>
where
    C: for<'a> Encoder<&'a [u8], Error = CodecError>,
    P: Fn(&Encoded) -> &[u8],
{
    codec.encode(payload(first), buf)?;
    while buf.len() < batch {
        let Some(f) = outbox.try_recv() else { break };
        codec.encode(payload(&f), buf)?;
    }
    Ok(())
}

/// Runs one WebSocket connection to its end: a message whose payload starts with `{` is JSON,
/// any other protobuf, whatever its opcode (as the original); the server answers in the kind
/// (text or binary) the client last used.
pub(crate) async fn serve_websocket(engine: Engine, mut ws: WebSocket, policy: FormatPolicy) {
    let (conn, mut outbox) = engine.open();
    // The session reads decoded frames from this channel; one task pumps the socket both ways
    // so that pings are answered at once and reading never waits on writing.
    let (in_tx, in_rx) = mpsc::channel::<Result<easyim_proto::Msg, CodecError>>(16);
    let frames =
        futures::stream::unfold(
            in_rx,
            |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
        );
    let session = conn.run(Box::pin(frames));
    let pump = async move {
        let mut binary = false;
        let mut in_tx = Some(in_tx);
        loop {
            let room = in_tx.as_ref().is_some_and(|t| t.capacity() > 0);
            tokio::select! {
                m = ws.recv(), if room => {
                    let decoded = match m {
                        Some(Ok(Message::Text(t))) => {
                            binary = false;
                            Some(decode_ws(policy, t.as_bytes(), true))
                        }
                        Some(Ok(Message::Binary(b))) => {
                            binary = true;
                            Some(decode_ws(policy, &b, false))
                        }
                        Some(Ok(Message::Ping(_))) => {
                            // The pong is queued by the library; send it now.
                            let _ = ws.flush().await;
                            None
                        }
                        Some(Ok(Message::Pong(_))) => None,
                        // A message over the limit is E_TOO_LARGE (protocol.md section 6),
                        // then the end of the input.
                        Some(Err(e)) => {
                            if let (Some(err), Some(tx)) = (too_large(&e), in_tx.as_ref()) {
                                let _ = tx.try_send(Err(err));
                            }
                            in_tx = None;
                            None
                        }
                        // A close or the end: the session sees the end of its input.
                        _ => {
                            in_tx = None;
                            None
                        }
                    };
                    if let (Some(d), Some(tx)) = (decoded, in_tx.as_ref()) {
                        let _ = tx.try_send(d);
                    }
                }
                // The session is behind: wake when it has room again (reading waits meanwhile,
                // so a client cannot queue unbounded input).
                _ = async {
                    match in_tx.as_ref() {
                        Some(t) => drop(t.reserve().await),
                        None => std::future::pending().await,
                    }
                }, if !room && in_tx.is_some() => {}
                f = outbox.recv() => {
                    let Some(f) = f else { break };
                    if !write_ws(&mut ws, &mut outbox, &f, binary).await {
                        // End the session's input, and keep draining so that it is never
                        // blocked on a dead socket.
                        drop(in_tx.take());
                        while outbox.recv().await.is_some() {}
                        return;
                    }
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.send(Message::Close(None))).await;
    };
    tokio::join!(session, pump);
}

/// Writes `first` and what else is queued now to the WebSocket, then flushes once within
/// `WRITE_TIMEOUT`; false if the socket failed.
async fn write_ws(ws: &mut WebSocket, outbox: &mut Outbox, first: &Encoded, binary: bool) -> bool {
    let mut ok = ws.feed(ws_message(first, binary)).await.is_ok();
    while ok {
        match outbox.try_recv() {
            Some(f) => ok = ws.feed(ws_message(&f, binary)).await.is_ok(),
            None => break,
        }
    }
    ok && matches!(
        tokio::time::timeout(WRITE_TIMEOUT, ws.flush()).await,
        Ok(Ok(()))
    )
}

/// Tells a message or frame over the limit, which the WebSocket library refuses with a capacity
/// error (axum wraps it), from a broken connection.
fn too_large(e: &axum::Error) -> Option<CodecError> {
    use std::error::Error as _;
    match e.source()?.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => Some(CodecError::TooLarge {
            len: *size,
            max: *max_size,
        }),
        _ => None,
    }
}

/// Decodes a WebSocket payload by its content: JSON if it starts with `{` (in a text message,
/// after leading whitespace), else protobuf, whatever the opcode. Protobuf is decoded from the
/// whole payload: its first byte may be `\n` (the tag of `id`).
fn decode_ws(policy: FormatPolicy, payload: &[u8], text: bool) -> Result<Msg, CodecError> {
    let start = if text {
        payload.trim_ascii_start()
    } else {
        payload
    };
    let format = easyim_proto::detect_format(start);
    if !policy.allows(format) {
        return Err(CodecError::FormatNotAllowed { format, policy });
    }
    easyim_proto::decode_as(payload, format)
}

fn ws_message(e: &Encoded, binary: bool) -> Message {
    if binary {
        Message::Binary(e.payload(Format::Protobuf).clone())
    } else {
        // JSON is UTF-8 by construction.
        match Utf8Bytes::try_from(e.payload(Format::Json).clone()) {
            Ok(t) => Message::Text(t),
            Err(_) => Message::Binary(e.payload(Format::Json).clone()),
        }
    }
}
