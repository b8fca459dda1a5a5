//! Webhooks to an `https://` receiver: delivered over TLS when its certificate chains to
//! `WEBHOOK_CA`, and not at all (failures counted, the events kept) when it does not.

mod support;

use std::time::Duration;

use easyim_proto::ChatType;
use support::*;

const SECRET: &str = "a-webhook-secret-of-some-length";

fn settings(url: &str, ca: &TestCa) -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOK_URL", url.to_owned()),
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("WEBHOOK_CA", ca.cert_file.to_string_lossy().into_owned()),
        ("WEBHOOK_RETRY_MIN_MS", "50".to_owned()),
        ("WEBHOOK_RETRY_MAX_MS", "200".to_owned()),
        ("WEBHOOK_TIMEOUT_MS", "2000".to_owned()),
        ("WEBHOOK_EVENTS", "message.created".to_owned()),
    ]
}

fn pairs<'a>(s: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    s.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn send_one(srv: &TestServer, tag: &str) {
    let a = srv.user(&format!("{tag}_a")).await;
    let b = srv.user(&format!("{tag}_b")).await;
    let mut c = Client::login(srv.im, Kind::Lines, &a).await;
    c.send(&text(&a, &b.id, ChatType::Single, tag, 1, "over tls"))
        .await;
    let ack = c.recv().await;
    assert_eq!(ack.id, tag, "{ack:?}");
}

#[tokio::test]
async fn events_reach_an_https_receiver_that_webhook_ca_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "receiver");
    let rx = Receiver::start_tls(&ca).await;
    assert!(rx.url().starts_with("https://127.0.0.1:"), "{}", rx.url());
    let s = settings(&rx.url(), &ca);
    let srv = start(&pairs(&s)).await;
    send_one(&srv, "tls-ok").await;
    let events = rx.wait_for("the message over TLS", |e| !e.is_empty()).await;
    assert_eq!(events[0]["type"], "message.created", "{events:?}");
    assert_eq!(events[0]["data"]["message"]["content"], "over tls");
    let d = &rx.deliveries()[0];
    assert!(d.signature.starts_with("sha256="), "{d:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn an_https_receiver_webhook_ca_does_not_trust_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = TestCa::new(dir.path(), "receiver");
    let other = TestCa::new(dir.path(), "other");
    let rx = Receiver::start_tls(&theirs).await;
    let s = settings(&rx.url(), &other);
    let srv = start(&pairs(&s)).await;
    send_one(&srv, "tls-untrusted").await;
    // Tries fail at the handshake; the event stays in the outbox for later tries (the depth
    // gauge is refreshed every second or so).
    let t0 = std::time::Instant::now();
    loop {
        let r = try_request(srv.api, "GET", "/metrics", &[], b"")
            .await
            .unwrap();
        let m = String::from_utf8(r.body).unwrap();
        assert_eq!(metric(&m, "easyim_webhook_delivered_total"), 0.0, "{m}");
        if metric(&m, "easyim_webhook_failures_total") >= 2.0
            && metric(&m, "easyim_webhook_outbox_depth") >= 1.0
        {
            break;
        }
        assert!(t0.elapsed() < WAIT, "no failed tries counted: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rx.deliveries().is_empty());
    srv.shutdown().await;
}
