//! [`Groups`]: creating groups, membership and its rules.

use std::sync::Arc;

use tracing::instrument;

use crate::engine::Engine;
use crate::error::{Entity, ImError};
use crate::storage::GroupStore;
use crate::types::{Group, GroupId, Profile, UserId};

/// Longest group name, in bytes.
pub const MAX_GROUP_NAME: usize = 128;

/// Groups and their members. Cheap to clone.
#[derive(Clone)]
pub struct Groups {
    store: Arc<dyn GroupStore>,
    engine: Engine,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups").finish_non_exhaustive()
    }
}

impl Groups {
    pub(crate) fn new(store: Arc<dyn GroupStore>, engine: Engine) -> Self {
        Groups { store, engine }
    }

    /// Creates a group owned by `me`, with `me` and `members` as members. `Invalid` for an
    /// empty or over-long name, `NotFound(User)` for an unknown member (nothing is created).
    #[instrument(skip(self, members), fields(members = members.len()))]
    pub async fn create(
        &self,
        me: UserId,
        name: &str,
        members: &[UserId],
    ) -> Result<Group, ImError> {
        if name.is_empty() {
            return Err(ImError::invalid("missing `name`"));
        }
        if name.len() > MAX_GROUP_NAME {
            return Err(ImError::invalid(format!(
                "`name` must be at most {MAX_GROUP_NAME} bytes"
            )));
        }
        let id = self.engine.next_id();
        Ok(self.store.create_group(id, name, me, members).await?)
    }

    /// Adds `users` to `group`; any member may. `Invalid` for no users, `NotFound(Group)`,
    /// `Forbidden` if `me` is not a member, `NotFound(User)` (nobody is added).
    #[instrument(skip(self, users), fields(users = users.len()))]
    pub async fn invite(
        &self,
        me: UserId,
        group: GroupId,
        users: &[UserId],
    ) -> Result<(), ImError> {
        if users.is_empty() {
            return Err(ImError::invalid("missing `user_ids`"));
        }
        self.require_member(group, me).await?;
        Ok(self.store.add_members(group, users).await?)
    }

    /// Makes `me` a member of `group`. `NotFound(Group)`.
    pub async fn join(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        Ok(self.store.add_members(group, &[me]).await?)
    }

    /// Takes `me` out of `group`. `NotFound(Group)`, `NotFound(Member)`.
    pub async fn leave(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        Ok(self.store.remove_member(group, me).await?)
    }

    /// The groups `me` belongs to.
    pub async fn list(&self, me: UserId) -> Result<Vec<Group>, ImError> {
        Ok(self.store.groups_of(me).await?)
    }

    /// The members of `group`, for its members only: `NotFound(Group)`, `Forbidden`.
    pub async fn members(&self, me: UserId, group: GroupId) -> Result<Vec<Profile>, ImError> {
        self.require_member(group, me).await?;
        Ok(self.store.group_members(group).await?)
    }

    /// The group if `user` is one of its members: `NotFound(Group)`, else `Forbidden`.
    pub async fn require_member(&self, group: GroupId, user: UserId) -> Result<Group, ImError> {
        let found = self
            .store
            .group(group)
            .await?
            .ok_or(ImError::NotFound(Entity::Group))?;
        if self.store.is_member(group, user).await? {
            Ok(found)
        } else {
            Err(ImError::Forbidden("not a member of the group"))
        }
    }
}
