//! A logged-in connection's read loop in the message scenarios: acks of its own messages (if
//! it sends), deliveries from others, checked as they come.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::checker::{ConnCheck, Seen};
use crate::messages::Ctx;
use crate::transport::Rx;

/// How one connection reads.
#[derive(Debug)]
pub(crate) struct ReadSpec {
    /// The user it is logged in as.
    pub(crate) me: String,
    /// Its sender number and window (released by each ack), if it sends.
    pub(crate) sends: Option<(u32, Arc<Semaphore>)>,
}

/// What a read loop leaves: the checks and whether the server closed the connection.
#[derive(Debug)]
pub(crate) struct ReadEnd {
    pub(crate) check: ConnCheck,
    pub(crate) closed: bool,
}

/// Reads and checks frames until the run ends or the server closes the connection (an
/// error).
pub(crate) async fn read_loop(ctx: Arc<Ctx>, spec: ReadSpec, mut rx: Rx) -> ReadEnd {
    let me = spec.me;
    let own_sender = spec.sends.as_ref().map(|s| s.0);
    let window = spec.sends.map(|s| s.1);
    let mut check = ConnCheck::new(me.clone(), own_sender, ctx.size);
    let mut closed = false;
    loop {
        let m = tokio::select! {
            biased;
            _ = ctx.stop_recv.cancelled() => break,
            m = rx.next() => m,
        };
        if ctx.stop_recv.is_cancelled() {
            break;
        }
        let m = match m {
            Some(Ok(m)) => m,
            end => {
                closed = true;
                ctx.problems.error(match end {
                    Some(Err(e)) => format!("user {me}: read: {e:#}"),
                    _ => format!("user {me}: connection closed by the server"),
                });
                break;
            }
        };
        let now_us = ctx.start.elapsed().as_micros() as u64;
        match check.frame(&m, now_us, &ctx.problems) {
            Seen::Ack => {
                ctx.live.acked.fetch_add(1, Relaxed);
                if let Some(w) = &window {
                    w.add_permits(1);
                }
            }
            Seen::Delivery => {
                ctx.live.delivered.fetch_add(1, Relaxed);
            }
            Seen::Other => {}
        }
    }
    ReadEnd { check, closed }
}
