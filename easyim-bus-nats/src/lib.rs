//! easyim-bus-nats: several easyim nodes hand each other deliveries over NATS.
//!
//! Every node of a cluster holds some of the connections. When a node stores a message it
//! delivers it to the connections it holds and publishes a [`BusEvent`](easyim_core::BusEvent)
//! for the others; a node that receives one applies it to its own connections with
//! [`Engine::apply`](easyim_core::Engine::apply). NATS carries the events (core NATS, at most
//! once); storage stays the record, so what a node misses stays pending for the next login.
//!
//! ```no_run
//! # async fn f(storage: std::sync::Arc<dyn easyim_core::Storage>,
//! #            auth: std::sync::Arc<dyn easyim_core::Auth>) -> Result<(), easyim_bus_nats::Error> {
//! use easyim_bus_nats::{NatsBus, NatsOptions};
//! let (bus, subscriber) = NatsBus::connect(NatsOptions::new("nats://127.0.0.1:4222", 1)).await?;
//! let engine = easyim_core::Engine::with_bus(storage, auth, Default::default(), std::sync::Arc::new(bus));
//! tokio::spawn(subscriber.run(engine, std::future::pending()));
//! # Ok(()) }
//! ```
//!
//! Subjects (with the default prefix `easyim.v1`), every node subscribed to all:
//! - `easyim.v1.batch`: what a node publishes: the events that queued up since its last
//!   publish, many to one NATS message, deliveries in binary with the frame's protobuf
//!   encoding (`batch`).
//!
//! and, read for nodes of earlier versions, which published one JSON event per message:
//! - `easyim.v1.deliver`: queue a frame to every connection of some users
//!   ([`BusEvent::Deliver`](easyim_core::BusEvent::Deliver)).
//! - `easyim.v1.revoke`: close every connection of a user with `E_AUTH_REVOKED`
//!   ([`BusEvent::Revoke`](easyim_core::BusEvent::Revoke)).
//!
//! Modules:
//! - `bus`: [`NatsBus`] (the publishing side, never blocks) and [`NatsSubscriber`].
//! - `batch`: the batch payload.
//! - `wire`: the JSON payloads of the single-event subjects (also the bodies of a batch's
//!   revoke and presence entries).
//! - `stats`: [`BusStats`], counters in the Prometheus text format.
//! - `error`: [`Error`].

mod batch;
mod bus;
mod error;
mod stats;
mod wire;

pub use bus::{NatsBus, NatsOptions, NatsSubscriber};
pub use error::Error;
pub use stats::BusStats;
