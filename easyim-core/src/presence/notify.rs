//! The presence hooks: a user's first connection on this node and its last one, the bus
//! events of the other nodes, the beat, and the PRESENCE frames to a user's online friends.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use easyim_proto::{ChatType, Encoded, Msg, MsgStatus, MsgType};
use tokio::sync::mpsc;
use tracing::warn;

use super::{Registry, PRESENCE_EXPIRY};
use crate::bus::BusEvent;
use crate::ids::now_ms;
use crate::node::Node;
use crate::types::{Page, UserId};

/// Friend notices waiting for the worker; past it a notice is dropped (and logged).
const JOBS_MAX: usize = 4096;
/// The friends read in one storage call.
const FRIEND_PAGE: usize = 1000;
/// The most friends of one user told of a change.
const FRIENDS_MAX: usize = 10_000;
/// The most users in one [`BusEvent::Snapshot`].
const SNAPSHOT_CHUNK: usize = 5000;
/// The most users of this node a snapshot names in all.
const SNAPSHOT_MAX: usize = 1_000_000;

/// A user's change to tell its friends of.
#[derive(Debug)]
struct Notice {
    user: UserId,
    online: bool,
    at: i64,
    /// Whether friends on other nodes are told too (the change happened here); `false` for a
    /// dead node's users, whom every node marks offline for its own connections.
    everywhere: bool,
}

/// The presence state of one node: the registry of the others, this node's instance, and the
/// queue of friend notices (one worker sends them in order).
#[derive(Debug)]
pub(crate) struct Presence {
    pub(crate) registry: Registry,
    /// This start of this node, unique in the cluster: the node id and the start time.
    pub(crate) instance: u64,
    jobs: OnceLock<mpsc::Sender<Notice>>,
}

impl Presence {
    /// The presence of a node `node_id` starting now.
    pub(crate) fn new(node_id: u16) -> Self {
        Presence {
            registry: Registry::default(),
            instance: (u64::from(node_id) << 48) | (now_ms() & 0xFFFF_FFFF_FFFF),
            jobs: OnceLock::new(),
        }
    }
}

impl Node {
    /// After a connection of `user` opened here; `count`: its connections here now.
    pub(crate) fn connected(self: &Arc<Self>, user: UserId, count: usize) {
        if count != 1 {
            return;
        }
        let at = now_ms() as i64;
        self.publish(BusEvent::Presence {
            instance: self.presence.instance,
            user,
            online: true,
            at,
        });
        if !self.presence.registry.remote(user) {
            self.notice(user, true, at, true);
        }
    }

    /// After a connection of `user` closed here; `left`: its connections here now (`None`
    /// if the connection was not registered).
    pub(crate) fn disconnected(self: &Arc<Self>, user: UserId, left: Option<usize>) {
        if left != Some(0) {
            return;
        }
        let at = now_ms() as i64;
        self.publish(BusEvent::Presence {
            instance: self.presence.instance,
            user,
            online: false,
            at,
        });
        if !self.presence.registry.remote(user) {
            self.presence.registry.seen(user, at);
            self.notice(user, false, at, true);
        }
    }

    /// Whether `user` has a connection on any node, and when it was last seen going offline.
    pub(crate) fn online(&self, user: UserId) -> (bool, i64) {
        let online = self.router.hub().online(user) > 0 || self.presence.registry.remote(user);
        (online, self.presence.registry.last_seen(user))
    }

    /// Applies another node's presence event.
    pub(crate) fn presence_event(self: &Arc<Self>, event: BusEvent) {
        let registry = &self.presence.registry;
        let now = Instant::now();
        match event {
            BusEvent::Presence {
                instance,
                user,
                online,
                at,
            } => {
                if registry.heard(instance, now) {
                    self.resync();
                }
                let elsewhere = registry.set(instance, user, online);
                if !online && !elsewhere && self.router.hub().online(user) == 0 {
                    registry.seen(user, at);
                }
            }
            BusEvent::Alive { instance, resync } => {
                if registry.heard(instance, now) {
                    self.resync();
                } else if resync {
                    self.snapshot();
                }
            }
            BusEvent::Snapshot { instance, users } => {
                if registry.heard(instance, now) {
                    self.resync();
                }
                registry.add(instance, &users);
            }
            BusEvent::Deliver { .. } | BusEvent::Revoke { .. } => {}
        }
    }

    /// One beat: says this node is alive, and marks offline the users of the nodes silent for
    /// [`PRESENCE_EXPIRY`] (telling this node's connections of their friends).
    pub(crate) fn presence_beat(self: &Arc<Self>) {
        self.publish(BusEvent::Alive {
            instance: self.presence.instance,
            resync: false,
        });
        let gone = self
            .presence
            .registry
            .expire(Instant::now(), PRESENCE_EXPIRY);
        let at = now_ms() as i64;
        for user in gone {
            if self.router.hub().online(user) == 0 {
                self.presence.registry.seen(user, at);
                self.notice(user, false, at, false);
            }
        }
    }

    /// Met an unknown node: ask every node for its users, and send ours.
    fn resync(&self) {
        self.publish(BusEvent::Alive {
            instance: self.presence.instance,
            resync: true,
        });
        self.snapshot();
    }

    /// Publishes the users this node holds, in chunks.
    fn snapshot(&self) {
        let users = self.router.hub().users(SNAPSHOT_MAX);
        for chunk in users.chunks(SNAPSHOT_CHUNK) {
            self.publish(BusEvent::Snapshot {
                instance: self.presence.instance,
                users: chunk.to_vec(),
            });
        }
    }

    fn publish(&self, event: BusEvent) {
        if self.router.bus().has_peers() {
            self.router.bus().publish(event);
        }
    }

    /// Queues the friends' notice of a change (the worker starts with the first one).
    fn notice(self: &Arc<Self>, user: UserId, online: bool, at: i64, everywhere: bool) {
        if self.directory.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let jobs = self.presence.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::channel(JOBS_MAX);
            runtime.spawn(work(Arc::downgrade(self), rx));
            tx
        });
        let notice = Notice {
            user,
            online,
            at,
            everywhere,
        };
        if jobs.try_send(notice).is_err() {
            warn!(
                user,
                online, "presence notices queue full: a change not told to friends"
            );
        }
    }
}

/// The worker: tells each notice's user's online friends, one notice after the other, until
/// the node is gone.
async fn work(node: Weak<Node>, mut rx: mpsc::Receiver<Notice>) {
    while let Some(n) = rx.recv().await {
        let Some(node) = node.upgrade() else {
            return;
        };
        tell_friends(&node, &n).await;
    }
}

async fn tell_friends(node: &Node, n: &Notice) {
    let Some(directory) = &node.directory else {
        return;
    };
    let mut page = Page::first(FRIEND_PAGE);
    let mut seen = 0;
    loop {
        let friends = match directory.friends(n.user, page).await {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, user = n.user, "could not read friends to tell of presence");
                return;
            }
        };
        seen += friends.len();
        let last = friends.last().map(|f| f.id);
        for f in &friends {
            let local = node.router.hub().online(f.id) > 0;
            let remote = n.everywhere && node.presence.registry.remote(f.id);
            if !local && !remote {
                continue;
            }
            let frame = Arc::new(Encoded::new(Msg {
                from_user_id: n.user.to_string(),
                to_user_id: f.id.to_string(),
                chat_type: ChatType::Single as i32,
                msg_type: MsgType::Presence as i32,
                status: MsgStatus::Sent as i32,
                content: if n.online { "online" } else { "offline" }.into(),
                timestamp: n.at,
                ..Msg::default()
            }));
            node.router.deliver(vec![f.id], &frame, None, None, remote);
        }
        match last {
            Some(after) if friends.len() == FRIEND_PAGE && seen < FRIENDS_MAX => {
                page = Page {
                    after: Some(after),
                    limit: FRIEND_PAGE,
                };
            }
            _ => return,
        }
    }
}
