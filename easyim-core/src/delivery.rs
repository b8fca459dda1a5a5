//! [`Router`]: the one outbound path. Everything that reaches connections other than the one
//! that caused it (a chat message, its ack, a receipt, a notice) goes through
//! [`Router::deliver`]: to the connections this node holds, and to the other nodes on the bus.
//!
//! A frame is encoded at most once per wire format, and the same `Arc<Encoded>` is queued to
//! every connection.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use easyim_proto::Encoded;

use crate::bus::{Bus, BusEvent};
use crate::hub::{Hub, Kick};
use crate::metrics::Metrics;
use crate::sequencer::{Delivery, Sink};
use crate::types::{Conversation, UserId};

/// Delivery to local connections plus the bus.
pub(crate) struct Router {
    hub: Hub,
    bus: Arc<dyn Bus>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router over an empty hub, handing events to other nodes through `bus`.
    pub(crate) fn new(bus: Arc<dyn Bus>, metrics: Arc<Metrics>) -> Self {
        Router {
            hub: Hub::default(),
            bus,
            metrics,
        }
    }

    /// The connections of this node.
    pub(crate) fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The bus to the other nodes.
    pub(crate) fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Queues `frame` to every connection of `users` on this node but `except`, and, if
    /// `publish` (this node is where it happened), to theirs on every other node. `key` is the
    /// conversation position of a chat message (a connection drops one its replay carried).
    pub(crate) fn deliver(
        &self,
        users: Vec<UserId>,
        frame: &Arc<Encoded>,
        key: Option<(Conversation, u64)>,
        except: Option<u64>,
        publish: bool,
    ) {
        let n = self.hub.deliver(&users, frame, key, except);
        if key.is_some() {
            self.metrics.deliveries.fetch_add(n as u64, Relaxed);
        }
        if publish && self.bus.has_peers() {
            self.bus.publish(BusEvent::Deliver {
                users,
                frame: frame.clone(),
                key,
            });
        }
    }

    /// Closes every connection of `user`, on this node and, if `publish`, on the others.
    pub(crate) fn revoke(&self, user: UserId, publish: bool) {
        self.hub.kick_user(user, Kick::Revoked);
        if publish {
            self.bus.publish(BusEvent::Revoke { user });
        }
    }
}

/// The sequencer releases into the router: the ack to its sender first, then the delivery.
impl Sink for Router {
    fn release(&self, conv: Conversation, seq: u64, d: Delivery) {
        if let Some((conn, ack)) = &d.ack {
            conn.reply(ack);
        }
        self.deliver(d.users, &d.frame, Some((conv, seq)), d.except, d.local);
    }
}
