//! Webhooks: the dispatcher that delivers the events of the storage's durable outbox.
//!
//! - `settings`: [`WebhookSettings`], from `WEBHOOK_*`.
//! - `sign`: the HMAC-SHA256 signature of a delivery.
//! - `client`: one HTTP/1.1 POST to the receiver (hyper; rustls for `https://`).
//! - `https`: the authorities an `https://` receiver's certificate is checked against.
//! - `counters`: deliveries, failures, the outbox's depth and age, for `/metrics`.
//! - `dispatcher`: the loop that claims, posts, acknowledges or schedules a retry.
//! - `before_send`: the before-send hook over HTTP (`BEFORE_SEND_*`).

mod before_send;
mod client;
mod counters;
mod dispatcher;
mod https;
mod settings;
mod sign;

pub use before_send::HttpBeforeSend;
pub use counters::WebhookCounters;
pub(crate) use dispatcher::run;
pub use settings::{BeforeSendSettings, OnError, WebhookSettings};
pub use sign::{signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
