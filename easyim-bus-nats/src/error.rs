//! The errors of the NATS bus.

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The NATS server could not be reached (or refused us) at startup.
    #[error("connecting to NATS at {url}: {err}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why it failed.
        err: async_nats::ConnectError,
    },
    /// The subscription to the cluster's subjects failed.
    #[error("subscribing to {subject}: {err}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why it failed.
        err: async_nats::SubscribeError,
    },
    /// The subscription could not be written to the server.
    #[error("sending the subscription to {subject}: {err}")]
    Flush {
        /// The subject.
        subject: String,
        /// Why it failed.
        err: async_nats::client::FlushError,
    },
}
