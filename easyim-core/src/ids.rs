//! Snowflake ids: 41 bits of milliseconds since 2024-01-01, 10 bits of node, 12 bits of
//! sequence. Unique across nodes with distinct `DB_NODE_ID`s, increasing within a node, and
//! small enough (63 bits) to be a positive `i64` in any database.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const EPOCH_MS: u64 = 1_704_067_200_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

/// Generates snowflake ids for one node.
#[derive(Debug)]
pub struct Snowflake {
    node: u64,
    state: Mutex<(u64, u64)>,
}

impl Snowflake {
    /// A generator for `node` (only its low 10 bits are used).
    pub fn new(node: u16) -> Self {
        Snowflake {
            node: u64::from(node) & ((1 << NODE_BITS) - 1),
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut now = now_ms().saturating_sub(EPOCH_MS);
        // A clock that steps back must not repeat ids: keep counting from the last time.
        if now < st.0 {
            now = st.0;
        }
        if now == st.0 {
            st.1 += 1;
            if st.1 >= 1 << SEQ_BITS {
                now += 1;
                st.1 = 0;
            }
        } else {
            st.1 = 0;
        }
        st.0 = now;
        (now << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | st.1
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_increasing() {
        let g = Snowflake::new(3);
        let mut last = 0;
        for _ in 0..100_000 {
            let id = g.next_id();
            assert!(id > last);
            assert!(id < i64::MAX as u64);
            last = id;
        }
    }

    #[test]
    fn nodes_do_not_collide() {
        let (a, b) = (Snowflake::new(1), Snowflake::new(2));
        let xs: std::collections::HashSet<u64> = (0..1000).map(|_| a.next_id()).collect();
        assert!((0..1000).all(|_| !xs.contains(&b.next_id())));
    }
}
