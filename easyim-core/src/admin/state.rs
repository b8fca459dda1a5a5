//! What the server API reads: the state of a user, a group, and this node.

use super::Admin;
use crate::auth::is_disabled_secret;
use crate::error::{Entity, ImError};
use crate::limits::MAX_LIST_LIMIT;
use crate::types::{Device, Group, GroupId, Page, Profile, UserId};

/// A user as the server API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    /// The public profile.
    pub profile: Profile,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// How many connections it has on this node (0: offline here).
    pub connections: usize,
    /// The ids of its groups: the first [`MAX_LIST_LIMIT`], by id.
    pub groups: Vec<GroupId>,
    /// Its push devices.
    pub devices: Vec<Device>,
}

/// A group as the server API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    /// The group (name, owner, member count).
    pub group: Group,
    /// Its members: the first [`MAX_LIST_LIMIT`], by id.
    pub members: Vec<UserId>,
    /// How many of those are online on this node.
    pub online_members: usize,
}

/// This node as the server API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// The node's snowflake number (`DB_NODE_ID`).
    pub node_id: u16,
    /// Users online on this node.
    pub online_users: usize,
    /// Their connections.
    pub connections: usize,
    /// Whether the node is stopping.
    pub shutting_down: bool,
}

impl Admin {
    /// The state of `user`. `NotFound(User)`.
    pub async fn user_state(&self, user: UserId) -> Result<UserState, ImError> {
        let account = self
            .store
            .user(user)
            .await?
            .ok_or(ImError::NotFound(Entity::User))?;
        let groups = self
            .store
            .groups_of(user, Page::first(MAX_LIST_LIMIT))
            .await?;
        Ok(UserState {
            profile: account.profile(),
            disabled: is_disabled_secret(&account.secret),
            connections: self.engine.online(user),
            groups: groups.into_iter().map(|g| g.id).collect(),
            devices: self.store.devices(user).await?,
        })
    }

    /// The state of `group`. `NotFound(Group)`.
    pub async fn group_state(&self, group: GroupId) -> Result<GroupState, ImError> {
        let g = self
            .store
            .group(group)
            .await?
            .ok_or(ImError::NotFound(Entity::Group))?;
        let members: Vec<UserId> = self
            .store
            .group_members(group, Page::first(MAX_LIST_LIMIT))
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let online_members = members
            .iter()
            .filter(|m| self.engine.online(**m) > 0)
            .count();
        Ok(GroupState {
            group: g,
            members,
            online_members,
        })
    }

    /// The state of this node.
    pub fn server_state(&self) -> ServerState {
        let (online_users, connections) = self.engine.online_totals();
        ServerState {
            node_id: self.engine.config().node_id,
            online_users,
            connections,
            shutting_down: self.engine.is_shutting_down(),
        }
    }
}
