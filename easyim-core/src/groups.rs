//! [`Groups`]: creating groups, membership and its rules.

use std::sync::Arc;

use tracing::instrument;

use crate::engine::Engine;
use crate::error::{Conflict, Entity, ImError, StorageError};
use crate::limits::{check_ids, checked_limit, Limits, MAX_LIST_LIMIT};
use crate::storage::GroupStore;
use crate::types::{Group, GroupId, Page, Paged, Profile, UserId};

/// Longest group name, in bytes.
pub const MAX_GROUP_NAME: usize = 128;

/// Groups and their members. Cheap to clone.
#[derive(Clone)]
pub struct Groups {
    store: Arc<dyn GroupStore>,
    engine: Engine,
    limits: Limits,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Groups {
    pub(crate) fn new(store: Arc<dyn GroupStore>, engine: Engine) -> Self {
        Groups {
            store,
            engine,
            limits: Limits::default(),
        }
    }

    /// The same service enforcing `limits`.
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits the service enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Creates a group owned by `me`, with `me` and `members` as members. `Invalid` for an
    /// empty or over-long name or more than [`crate::MAX_IDS_PER_CALL`] members,
    /// `NotFound(User)` for an unknown member, `Forbidden` past `max_group_members` or if a
    /// member (`me` included) is in `max_groups_per_user` groups already (nothing is created).
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
        check_ids("member_ids", members)?;
        let id = self.engine.next_id();
        let caps = self.limits.group_caps();
        self.store
            .create_group_within(id, name, me, members, caps)
            .await
            .map_err(over_limit)
    }

    /// Adds `users` to `group`; any member may. `Invalid` for no users or more than
    /// [`crate::MAX_IDS_PER_CALL`], `NotFound(Group)`, `Forbidden` if `me` is not a member,
    /// `NotFound(User)`, `Forbidden` past either limit (nobody is added).
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
        check_ids("user_ids", users)?;
        self.require_member(group, me).await?;
        let caps = self.limits.group_caps();
        self.store
            .add_members_within(group, users, caps)
            .await
            .map_err(over_limit)
    }

    /// Makes `me` a member of `group`. `NotFound(Group)`, `Forbidden` past either limit.
    pub async fn join(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        let caps = self.limits.group_caps();
        self.store
            .add_members_within(group, &[me], caps)
            .await
            .map_err(over_limit)
    }

    /// Takes `me` out of `group`. `NotFound(Group)`, `NotFound(Member)`.
    pub async fn leave(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        Ok(self.store.remove_member(group, me).await?)
    }

    /// A page of the groups `me` belongs to, by id ascending. `Invalid` for a limit out of 1
    /// to [`MAX_LIST_LIMIT`].
    pub async fn list(&self, me: UserId, page: Page) -> Result<Paged<Group>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        let rows = self
            .store
            .groups_of(me, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |g| g.id))
    }

    /// A page of the members of `group`, by id ascending, for its members only: `Invalid` for
    /// a limit out of 1 to [`MAX_LIST_LIMIT`], `NotFound(Group)`, `Forbidden`.
    pub async fn members(
        &self,
        me: UserId,
        group: GroupId,
        page: Page,
    ) -> Result<Paged<Profile>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        self.require_member(group, me).await?;
        let rows = self
            .store
            .group_members(group, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |p| p.id))
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

/// A cap storage refused the change for is the caller's `Forbidden`, not a conflict: retrying
/// will not help until someone leaves.
fn over_limit(e: StorageError) -> ImError {
    match e {
        StorageError::Conflict(Conflict::GroupFull) => {
            ImError::Forbidden("the group is full (its member limit is reached)")
        }
        StorageError::Conflict(Conflict::TooManyGroups) => {
            ImError::Forbidden("a user would be in more groups than allowed")
        }
        e => e.into(),
    }
}
