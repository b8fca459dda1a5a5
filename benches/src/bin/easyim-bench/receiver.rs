//! A logged-in connection's read loop in the message scenarios: acks of its own messages (if
//! it sends), deliveries from others, checked as they come, read slowly if asked to.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::checker::{ConnCheck, Seen};
use crate::messages::Ctx;
use crate::transport::Rx;

/// The least debt a slow reader sleeps off at once (a 5 ms burst is nothing next to a bad
/// network's round trip).
const SLEEP_MIN: Duration = Duration::from_millis(5);

/// How one connection reads.
#[derive(Debug)]
pub(crate) struct ReadSpec {
    /// The user it is logged in as.
    pub(crate) me: String,
    /// Its sender number and window (released by each ack), if it sends.
    pub(crate) sends: Option<(u32, Arc<Semaphore>)>,
    /// Time to spend after each frame while the load runs (a slow reader), if any.
    pub(crate) delay: Option<Duration>,
}

/// What a read loop leaves: the checks and whether the server closed the connection.
#[derive(Debug)]
pub(crate) struct ReadEnd {
    pub(crate) check: ConnCheck,
    pub(crate) closed: bool,
}

/// Paces a slow reader: on average `delay` per frame. The debt is slept off once it passes
/// `SLEEP_MIN`: the timer cannot sleep less than a millisecond, and a timer wake-up every
/// frame or two would make the generator, not the server, the bound of a run with hundreds
/// of slow readers.
#[derive(Debug)]
struct Pacer {
    delay: Duration,
    due: Instant,
}

impl Pacer {
    /// Waits out one frame's delay; returns at once when the load stops (the drain reads at
    /// full speed, so that what was delivered can be counted).
    async fn frame(&mut self, ctx: &Ctx) {
        let now = Instant::now();
        self.due = self.due.max(now) + self.delay;
        if self.due > now + SLEEP_MIN {
            tokio::select! {
                _ = tokio::time::sleep_until(self.due) => {}
                _ = ctx.stop_send.cancelled() => {}
            }
        }
    }
}

/// Reads and checks frames until the run ends or the server closes the connection. A close
/// is an error unless the connection is a slow reader (the server may drop slow consumers).
pub(crate) async fn read_loop(ctx: Arc<Ctx>, spec: ReadSpec, mut rx: Rx) -> ReadEnd {
    let me = spec.me;
    let own_sender = spec.sends.as_ref().map(|s| s.0);
    let window = spec.sends.map(|s| s.1);
    let mut check = ConnCheck::new(me.clone(), own_sender, ctx.size);
    let mut pacer = spec.delay.map(|delay| Pacer {
        delay,
        due: Instant::now(),
    });
    let close_is_error = pacer.is_none();
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
                if close_is_error {
                    ctx.problems.error(match end {
                        Some(Err(e)) => format!("user {me}: read: {e:#}"),
                        _ => format!("user {me}: connection closed by the server"),
                    });
                }
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
        if let Some(p) = pacer.as_mut() {
            if !ctx.stop_send.is_cancelled() {
                p.frame(&ctx).await;
            }
        }
    }
    ReadEnd { check, closed }
}
