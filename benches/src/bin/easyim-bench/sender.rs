//! A sending connection's write loop: up to `window` messages in flight, paced to a rate.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};
use tokio::sync::Semaphore;

use crate::checker::content_for;
use crate::messages::Ctx;
use crate::transport::Tx;

/// Most messages written per flush.
const BATCH: usize = 64;

/// What one sender sends, and how fast.
#[derive(Debug)]
pub(crate) struct SendSpec {
    /// The user it is logged in as.
    pub(crate) me: String,
    /// The recipient: a user or a group.
    pub(crate) to: String,
    pub(crate) chat: ChatType,
    /// Its sender number (the first part of its message ids).
    pub(crate) idx: u32,
    /// Messages sent, not yet acked: a permit per message, given back by each ack.
    pub(crate) window: Arc<Semaphore>,
    /// Messages per second (0: flat out).
    pub(crate) rate: f64,
}

/// Waits until message `n` is due at `rate` msgs/s from `t0`; false if the load stopped.
async fn wait_due(ctx: &Ctx, t0: Instant, n: u64, rate: f64) -> bool {
    let due = (t0.elapsed().as_secs_f64() * rate) as u64;
    if n < due {
        return true;
    }
    let at = Duration::from_secs_f64((n + 1) as f64 / rate);
    let wait = at - t0.elapsed().min(at);
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = ctx.stop_send.cancelled() => false,
    }
}

/// Sends until the load stops; returns the connection's sending half and the messages sent.
pub(crate) async fn write_loop(ctx: Arc<Ctx>, mut tx: Tx, spec: SendSpec) -> (Tx, u64) {
    let (window, rate, me) = (spec.window, spec.rate, spec.me);
    let mut n: u64 = 0;
    let t0 = Instant::now();
    let mut tmpl = Msg {
        from_user_id: me.clone(),
        to_user_id: spec.to,
        chat_type: spec.chat as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        ..Msg::default()
    };
    'outer: loop {
        let permit = tokio::select! {
            p = window.acquire() => p,
            _ = ctx.stop_send.cancelled() => break,
        };
        let Ok(p) = permit else { break };
        p.forget();
        if rate > 0.0 && !wait_due(&ctx, t0, n, rate).await {
            window.add_permits(1);
            break;
        }
        let mut batch = 1;
        loop {
            let id = format!("{}-{n}", spec.idx);
            let t_us = ctx.start.elapsed().as_micros() as u64;
            tmpl.content = content_for(&id, t_us, ctx.size);
            tmpl.id = id;
            tmpl.seq = n as u32;
            if let Err(e) = tx.feed(&tmpl).await {
                ctx.problems.error(format!("user {me}: write: {e:#}"));
                break 'outer;
            }
            n += 1;
            ctx.live.sent.fetch_add(1, Relaxed);
            if batch >= BATCH || (rate > 0.0 && n >= (t0.elapsed().as_secs_f64() * rate) as u64) {
                break;
            }
            match window.try_acquire() {
                Ok(p) => {
                    p.forget();
                    batch += 1;
                }
                Err(_) => break,
            }
        }
        if let Err(e) = tx.flush().await {
            ctx.problems.error(format!("user {me}: write: {e:#}"));
            break;
        }
    }
    (tx, n)
}
