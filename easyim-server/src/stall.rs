//! [`Stall`]: a socket that fails instead of waiting without end on a peer that makes no
//! progress.
//!
//! Every HTTP connection of either port goes through it, and so does a WebSocket upgraded from
//! one (the upgrade keeps the same socket). A write that cannot make progress for the write
//! timeout fails (the peer stopped reading: a response or WebSocket frames would otherwise hold
//! the connection, and its place under `MAX_CONNECTIONS`, forever). Until the connection is
//! upgraded, a read that waits longer than the read timeout fails too (a request head or body
//! that never arrives, or an idle keep-alive connection); a WebSocket's silence is the IM
//! session's business (`AUTH_TIMEOUT`, then `SERVER_DROP_AFTER`).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

/// A socket with stall timeouts (see the module docs).
#[derive(Debug)]
pub(crate) struct Stall<S> {
    inner: S,
    read_timeout: Duration,
    write_timeout: Duration,
    /// Set when the connection became a WebSocket: reads may then wait as long as they like.
    upgraded: Arc<AtomicBool>,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> Stall<S> {
    /// Wraps `inner`; `upgraded` is set by whoever upgrades the connection.
    pub(crate) fn new(
        inner: S,
        read_timeout: Duration,
        write_timeout: Duration,
        upgraded: Arc<AtomicBool>,
    ) -> Self {
        Stall {
            inner,
            read_timeout,
            write_timeout,
            upgraded,
            read_deadline: None,
            write_deadline: None,
        }
    }
}

/// `Pending` while `deadline` (started at the first `Pending`) has not passed; an error once it
/// has.
fn check(
    deadline: &mut Option<Pin<Box<Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
    what: &str,
) -> Poll<io::Error> {
    let d = deadline.get_or_insert_with(|| Box::pin(sleep(limit)));
    ready!(d.as_mut().poll(cx));
    Poll::Ready(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the peer made no progress {what} for {limit:?}"),
    ))
}

impl<S: AsyncRead + Unpin> AsyncRead for Stall<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending if this.upgraded.load(Ordering::Relaxed) => {
                this.read_deadline = None;
                Poll::Pending
            }
            Poll::Pending => {
                check(&mut this.read_deadline, this.read_timeout, cx, "reading").map(Err)
            }
        }
    }
}

impl<S> Stall<S> {
    /// Clears the write deadline on progress; starts or checks it while the write waits.
    fn write_guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        p: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match p {
            Poll::Ready(r) => {
                self.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                check(&mut self.write_deadline, self.write_timeout, cx, "writing").map(Err)
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stall<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.write_guard(cx, p)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.write_guard(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.write_guard(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.write_guard(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
