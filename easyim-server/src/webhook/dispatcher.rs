//! The dispatcher: claims events from the outbox, POSTs them, acknowledges them on a 2xx or
//! gives them back for a retry with exponential backoff and jitter.
//!
//! One POST at a time per node, carrying every event claimable at that moment up to
//! `WEBHOOK_BATCH` (in id order): an idle receiver gets events one by one as they come, a
//! slow one gets ever larger batches. A failed POST gives its whole batch back, so a key's
//! later events never overtake its earlier ones (the outbox does not hand out a key's event
//! while an earlier one waits for its retry). Events survive restarts (they stay in storage
//! until acknowledged); an event whose POST outlived its lease may be sent twice: delivery is
//! at least once, and the receiver deduplicates by event id.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use easyim_core::{now_ms, OutboxEvent, OutboxStore, Storage};
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::client::Client;
use super::{signature, WebhookCounters, WebhookSettings, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// How long the dispatcher waits before looking again when the outbox had nothing.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long it waits after the storage failed.
const STORAGE_BACKOFF: Duration = Duration::from_secs(1);
/// How often the outbox's depth and age are read for `/metrics`.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// The JSON body of a delivery: `{"events":[{"id","type","timestamp","attempt","data"}]}`.
pub(crate) fn body(events: &[OutboxEvent]) -> String {
    let mut out = String::from("{\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // `data` is JSON written by the storage; the rest are numbers and fixed names.
        out.push_str(&format!(
            "{{\"id\":\"{}\",\"type\":\"{}\",\"timestamp\":{},\"attempt\":{},\"data\":{}}}",
            e.id,
            e.kind.as_str(),
            e.created_ms,
            e.attempts + 1,
            e.data
        ));
    }
    out.push_str("]}");
    out
}

/// The delay before try `attempts + 1`: `min * 2^attempts`, at most `max`, then a random
/// point in its upper half (jitter, so that many nodes do not retry in step).
pub(crate) fn backoff(attempts: u32, min: Duration, max: Duration) -> Duration {
    let base = min
        .saturating_mul(1u32 << attempts.min(20))
        .min(max)
        .as_millis() as u64;
    let jittered = rand::thread_rng().gen_range(base / 2..=base.max(1));
    Duration::from_millis(jittered.max(1))
}

/// Delivers events until `stop` is cancelled.
pub(crate) async fn run(
    outbox: Arc<dyn Storage>,
    settings: WebhookSettings,
    counters: Arc<WebhookCounters>,
    stop: CancellationToken,
) {
    let Some(url) = settings.url.clone() else {
        return;
    };
    let mut client = Client::new(url, settings.tls.clone());
    // A claim outlives the POST's timeout with a margin: no other node takes it meanwhile.
    let lease_ms = (settings.timeout.as_millis() as i64).saturating_mul(2) + 5_000;
    let mut last_stats = tokio::time::Instant::now() - STATS_EVERY;
    loop {
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = tokio::time::Instant::now();
            if let Ok(s) = outbox.outbox_stats().await {
                counters.depth.store(s.depth, Relaxed);
                counters.oldest_ms.store(s.oldest_ms.unwrap_or(0), Relaxed);
            }
        }
        let claimed = outbox
            .claim_events(settings.batch, now_ms() as i64, lease_ms)
            .await;
        let pause = match claimed {
            Err(e) => {
                warn!(error = %e, "webhook: cannot read the outbox");
                STORAGE_BACKOFF
            }
            Ok(events) if events.is_empty() => IDLE_POLL,
            Ok(events) => {
                deliver(&*outbox, &mut client, &settings, &counters, events).await;
                Duration::ZERO
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// POSTs one batch; acknowledges it on a 2xx, else gives it back for a retry.
async fn deliver(
    outbox: &dyn OutboxStore,
    client: &mut Client,
    settings: &WebhookSettings,
    counters: &WebhookCounters,
    events: Vec<OutboxEvent>,
) {
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    let body = body(&events);
    let ts = now_ms() as i64;
    let sig = signature(settings.secret.as_bytes(), ts, body.as_bytes());
    let headers = [(TIMESTAMP_HEADER, ts.to_string()), (SIGNATURE_HEADER, sig)];
    let result =
        tokio::time::timeout(settings.timeout, client.post(Bytes::from(body), &headers)).await;
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {:?}", settings.timeout)),
    };
    match failure {
        None => {
            counters.delivered.fetch_add(ids.len() as u64, Relaxed);
            debug!(events = ids.len(), "webhook: delivered");
            if let Err(e) = outbox.ack_events(&ids).await {
                // They will be sent again once their lease runs out: at least once.
                warn!(error = %e, "webhook: delivered, but the outbox could not forget them");
            }
        }
        Some(why) => {
            counters.failures.fetch_add(1, Relaxed);
            let attempts = events.iter().map(|e| e.attempts).max().unwrap_or(0);
            let wait = backoff(attempts, settings.retry_min, settings.retry_max);
            warn!(error = %why, events = ids.len(), attempt = attempts + 1, retry_in = ?wait, "webhook: delivery failed");
            let due = now_ms() as i64 + wait.as_millis() as i64;
            if let Err(e) = outbox.retry_events(&ids, due).await {
                warn!(error = %e, "webhook: cannot schedule the retry (the lease will run out)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use easyim_core::EventKind;

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let d0 = backoff(0, min, max);
            assert!(d0 >= Duration::from_millis(50) && d0 <= min, "{d0:?}");
            let d2 = backoff(2, min, max);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
            let d30 = backoff(30, min, max);
            assert!(
                d30 >= Duration::from_millis(500) && d30 <= max,
                "capped: {d30:?}"
            );
        }
    }

    #[test]
    fn body_is_json_with_each_event() {
        let e = OutboxEvent {
            id: 7,
            kind: EventKind::UserRegistered,
            key: "u:1".into(),
            data: "{\"user_id\":\"1\"}".into(),
            created_ms: 5,
            attempts: 2,
        };
        let v: serde_json::Value = serde_json::from_str(&body(&[e.clone(), e])).unwrap();
        assert_eq!(v["events"][0]["id"], "7");
        assert_eq!(v["events"][0]["type"], "user.registered");
        assert_eq!(v["events"][0]["attempt"], 3);
        assert_eq!(v["events"][1]["data"]["user_id"], "1");
    }
}
