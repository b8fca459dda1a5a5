//! [`Registry`]: the users the other nodes hold, and when users were last seen.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::types::UserId;

/// The most users whose last-seen time one node remembers (past it, the table starts over).
const LAST_SEEN_MAX: usize = 1_000_000;
/// The most other nodes tracked.
const PEERS_MAX: usize = 1024;
/// The most users tracked per other node.
const USERS_PER_PEER_MAX: usize = 1_000_000;

/// Another node, as this one knows it from the bus.
#[derive(Debug)]
struct Peer {
    heard: Instant,
    users: HashSet<UserId>,
}

#[derive(Debug, Default)]
struct State {
    peers: HashMap<u64, Peer>,
    last_seen: HashMap<UserId, i64>,
}

/// What this node knows of the other nodes' users (keyed by the other node's instance, a
/// number unique to each start of a node).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that `instance` spoke at `now`; `true` if it was unknown (new, or expired).
    pub(crate) fn heard(&self, instance: u64, now: Instant) -> bool {
        let mut st = self.lock();
        if let Some(p) = st.peers.get_mut(&instance) {
            p.heard = now;
            return false;
        }
        if st.peers.len() >= PEERS_MAX {
            return false;
        }
        st.peers.insert(
            instance,
            Peer {
                heard: now,
                users: HashSet::new(),
            },
        );
        true
    }

    /// Notes that `user` is (or is no longer) online on `instance`. Returns whether the user
    /// is still online on some other node after it.
    pub(crate) fn set(&self, instance: u64, user: UserId, online: bool) -> bool {
        let mut st = self.lock();
        if let Some(p) = st.peers.get_mut(&instance) {
            if online {
                if p.users.len() < USERS_PER_PEER_MAX {
                    p.users.insert(user);
                }
            } else {
                p.users.remove(&user);
            }
        }
        st.peers.values().any(|p| p.users.contains(&user))
    }

    /// Adds `users` to those `instance` holds.
    pub(crate) fn add(&self, instance: u64, users: &[UserId]) {
        let mut st = self.lock();
        if let Some(p) = st.peers.get_mut(&instance) {
            let room = USERS_PER_PEER_MAX.saturating_sub(p.users.len());
            p.users.extend(users.iter().copied().take(room));
        }
    }

    /// Whether another node holds a connection of `user`.
    pub(crate) fn remote(&self, user: UserId) -> bool {
        self.lock().peers.values().any(|p| p.users.contains(&user))
    }

    /// Forgets the nodes silent for longer than `expiry` at `now`; returns their users that
    /// no remaining node holds.
    pub(crate) fn expire(&self, now: Instant, expiry: Duration) -> Vec<UserId> {
        let mut st = self.lock();
        let dead: Vec<u64> = st
            .peers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.heard) > expiry)
            .map(|(&i, _)| i)
            .collect();
        let mut gone: HashSet<UserId> = HashSet::new();
        for i in dead {
            if let Some(p) = st.peers.remove(&i) {
                gone.extend(p.users);
            }
        }
        gone.retain(|u| !st.peers.values().any(|p| p.users.contains(u)));
        gone.into_iter().collect()
    }

    /// Notes that `user` went offline everywhere at `at` (ms since the epoch).
    pub(crate) fn seen(&self, user: UserId, at: i64) {
        let mut st = self.lock();
        if st.last_seen.len() >= LAST_SEEN_MAX && !st.last_seen.contains_key(&user) {
            st.last_seen.clear();
        }
        let e = st.last_seen.entry(user).or_insert(at);
        *e = (*e).max(at);
    }

    /// When `user` was last seen going offline, in ms since the epoch; 0 if not known here.
    pub(crate) fn last_seen(&self, user: UserId) -> i64 {
        self.lock().last_seen.get(&user).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_users_and_expiry() {
        let r = Registry::default();
        let t0 = Instant::now();
        assert!(r.heard(1, t0));
        assert!(!r.heard(1, t0));
        assert!(r.heard(2, t0));
        assert!(r.set(1, 10, true));
        r.add(2, &[10, 20]);
        assert!(r.set(1, 10, false), "still on node 2");
        assert!(r.remote(20));
        assert!(!r.set(3, 30, true), "an unknown node's users are not taken");
        r.heard(2, t0 + Duration::from_secs(5));
        r.set(1, 11, true);
        let mut gone = r.expire(t0 + Duration::from_secs(7), Duration::from_secs(6));
        gone.sort();
        assert_eq!(gone, [11], "node 1 expired; 10 and 20 stay on node 2");
        assert!(r.remote(10) && !r.remote(11));
        assert!(
            r.heard(1, t0 + Duration::from_secs(8)),
            "back: unknown again"
        );
    }

    #[test]
    fn last_seen_keeps_the_latest() {
        let r = Registry::default();
        assert_eq!(r.last_seen(5), 0);
        r.seen(5, 100);
        r.seen(5, 50);
        assert_eq!(r.last_seen(5), 100);
    }
}
