//! [`Limits`]: the caps that keep one user from making the server's work unbounded (group
//! sizes, memberships, ids per call), and the bounds of every list page.

use crate::error::ImError;
use crate::relation::DirectMessages;
use crate::types::GroupCaps;

/// The page size of a list when the caller names none.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// The largest page of a list (friends, friend requests, groups, members).
pub const MAX_LIST_LIMIT: usize = 200;
/// The most user ids one call may name (`member_ids` of a new group, `user_ids` of an invite):
/// one call is one storage step, and its size must stay bounded.
pub const MAX_IDS_PER_CALL: usize = 200;

/// Caps and policies of the domain, set per server (`MAX_GROUP_MEMBERS`,
/// `MAX_GROUPS_PER_USER`, `DIRECT_MESSAGES`) and given to [`crate::Im::with_limits`]. The groups service passes them to storage, which checks them
/// in the same atomic step as the change ([`GroupCaps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most members a group may have (creating or inviting past it is `Forbidden`).
    pub max_group_members: u64,
    /// The most groups one user may belong to (creating, joining or being invited past it is
    /// `Forbidden`).
    pub max_groups_per_user: u64,
    /// Who may send a 1:1 message to a user: anyone, or its friends only.
    pub direct_messages: DirectMessages,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_group_members: 2000,
            max_groups_per_user: 500,
            direct_messages: DirectMessages::Anyone,
        }
    }
}

impl Limits {
    /// The same limits with at most `n` members per group.
    pub fn with_max_group_members(mut self, n: u64) -> Self {
        self.max_group_members = n;
        self
    }

    /// The same limits with at most `n` groups per user.
    pub fn with_max_groups_per_user(mut self, n: u64) -> Self {
        self.max_groups_per_user = n;
        self
    }

    /// The same limits with 1:1 messages taken from `who`.
    pub fn with_direct_messages(mut self, who: DirectMessages) -> Self {
        self.direct_messages = who;
        self
    }

    /// The caps storage checks when members join.
    pub fn group_caps(&self) -> GroupCaps {
        GroupCaps {
            max_members: self.max_group_members,
            max_groups_per_user: self.max_groups_per_user,
        }
    }
}

/// `limit` if it is from 1 to `max`, else `Invalid` saying so.
pub(crate) fn checked_limit(limit: usize, max: usize) -> Result<usize, ImError> {
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ImError::invalid(format!(
            "`limit` must be an integer from 1 to {max}"
        )))
    }
}

/// `Invalid` if the argument `name` lists more than [`MAX_IDS_PER_CALL`] ids.
pub(crate) fn check_ids(name: &str, ids: &[u64]) -> Result<(), ImError> {
    if ids.len() > MAX_IDS_PER_CALL {
        return Err(ImError::invalid(format!(
            "`{name}` may list at most {MAX_IDS_PER_CALL} ids"
        )));
    }
    Ok(())
}
