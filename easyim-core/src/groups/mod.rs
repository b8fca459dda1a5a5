//! [`Groups`]: creating groups, membership and its rules. `admin` holds the owner's and the
//! admins' actions (kick, mute, roles, settings), `requests` the join requests of groups that
//! take members on approval, `events` the events a change stores in the group's conversation.
//!
//! Each change also hands storage the webhook event reporting it (`group.*`, when wanted),
//! which storage writes in the transaction of the change.

mod admin;
mod events;
mod requests;

use std::sync::Arc;

use tracing::{instrument, warn};

use crate::engine::Engine;
use crate::error::{Conflict, Entity, ImError, StorageError};
use crate::events::NewEvent;
use crate::limits::{check_ids, checked_limit, Limits, MAX_LIST_LIMIT};
use crate::roles::{GroupUpdate, InvitePolicy, JoinPolicy, MemberState, Role};
use crate::storage::{GroupStore, ModerationStore, OutboxStore};
use crate::types::{Group, GroupId, Page, Paged, Profile, UserId};
use events::Event;

pub use admin::{GroupInfo, MAX_GROUP_AVATAR, MAX_GROUP_NOTICE, MAX_MUTE_SECONDS};
pub use requests::Joined;

/// The one answer to a join the caller may not make, whether the group exists or not: a
/// guessed id must not tell which groups exist.
const JOIN_REFUSED: &str = "this group can only be joined by invitation";

/// Longest group name, in bytes.
pub const MAX_GROUP_NAME: usize = 128;

/// Groups and their members. Cheap to clone.
#[derive(Clone)]
pub struct Groups {
    store: Arc<dyn GroupStore>,
    moderation: Arc<dyn ModerationStore>,
    outbox: Arc<dyn OutboxStore>,
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
    pub(crate) fn new(
        store: Arc<dyn GroupStore>,
        moderation: Arc<dyn ModerationStore>,
        outbox: Arc<dyn OutboxStore>,
        engine: Engine,
    ) -> Self {
        Groups {
            store,
            moderation,
            outbox,
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
        self.create_with(me, name, members, &GroupUpdate::default())
            .await
    }

    /// [`Groups::create`] with the settings of `settings` (its `name` is ignored: `name` is
    /// the name), checked as [`Groups::update`] checks them. The creation is not a group event:
    /// the group's first message still has `conv_seq` 1.
    #[instrument(skip(self, members, settings), fields(members = members.len()))]
    pub async fn create_with(
        &self,
        me: UserId,
        name: &str,
        members: &[UserId],
        settings: &GroupUpdate,
    ) -> Result<Group, ImError> {
        check_name(name)?;
        admin::check_update(settings)?;
        check_ids("member_ids", members)?;
        let id = self.engine.next_id();
        let caps = self.limits.group_caps();
        let mut others: Vec<UserId> = members.iter().copied().filter(|&m| m != me).collect();
        others.sort_unstable();
        others.dedup();
        let created = Event::new("group_created", me, &others).with("name", name);
        let group = self
            .store
            .create_group_within(id, name, me, members, caps, &self.reported(id, &created))
            .await
            .map_err(over_limit)?;
        let settings = GroupUpdate {
            name: None,
            ..settings.clone()
        };
        // A second step: until it commits the group has the defaults, of which the join
        // policy (invitation only) is the strictest, so nobody gets in who should not.
        if !settings.is_empty() {
            self.moderation.update_group(id, &settings, &[]).await?;
        }
        Ok(group)
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
        let state = self.standing(group, me).await?;
        if !state.role.is_admin() {
            let settings = self.moderation.group_settings(group).await?;
            if settings.is_some_and(|s| s.invite_policy == InvitePolicy::Admins) {
                return Err(ImError::Forbidden("only the owner and admins may invite"));
            }
        }
        let already: Vec<UserId> = self
            .moderation
            .member_roles(group, users)
            .await?
            .into_iter()
            .map(|m| m.user)
            .collect();
        let mut added: Vec<UserId> = users
            .iter()
            .copied()
            .filter(|u| !already.contains(u))
            .collect();
        added.sort_unstable();
        added.dedup();
        let joined = Event::new("member_joined", me, &added);
        let events = if added.is_empty() {
            Vec::new()
        } else {
            self.reported(group, &joined)
        };
        let caps = self.limits.group_caps();
        self.store
            .add_members_within(group, users, caps, &events)
            .await
            .map_err(over_limit)?;
        if !added.is_empty() {
            self.announce(group, me, joined).await;
        }
        Ok(())
    }

    /// Makes `me` a member of `group` if its join policy is `open`, or files its request to
    /// join if it is `approval` (the owner and admins online get a NOTIFY
    /// `JOIN_REQUEST: <group id> <request id>`). `Forbidden` with one and the same answer if
    /// the group does not exist or takes members by invitation only (a guessed id tells
    /// nothing), `Forbidden` past either limit. Joining a group `me` is in already changes
    /// nothing.
    pub async fn join(&self, me: UserId, group: GroupId) -> Result<Joined, ImError> {
        let policy = self
            .moderation
            .group_settings(group)
            .await?
            .map(|s| s.join_policy);
        match policy {
            Some(JoinPolicy::Open) => {}
            Some(JoinPolicy::Approval) => return self.request_join(me, group).await,
            Some(JoinPolicy::Invite) | None => return Err(ImError::Forbidden(JOIN_REFUSED)),
        }
        if self.store.is_member(group, me).await? {
            return Ok(Joined::Member);
        }
        self.add_member(me, group, me).await?;
        Ok(Joined::Member)
    }

    /// Adds `user` to `group` within the limits, and stores the `member_joined` event by
    /// `actor`.
    async fn add_member(&self, actor: UserId, group: GroupId, user: UserId) -> Result<(), ImError> {
        let caps = self.limits.group_caps();
        let joined = Event::new("member_joined", actor, &[user]);
        self.store
            .add_members_within(group, &[user], caps, &self.reported(group, &joined))
            .await
            .map_err(over_limit)?;
        self.announce(group, actor, joined).await;
        Ok(())
    }

    /// Takes `me` out of `group`; the group's other members, and `me`, get a `member_left`
    /// event. `NotFound(Group)`, `NotFound(Member)`, `Forbidden` for the owner (who must
    /// transfer the group first).
    pub async fn leave(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        let Some(state) = self.moderation.member_state(group, me).await? else {
            self.require_group(group).await?;
            return Err(ImError::NotFound(Entity::Member));
        };
        if state.role == Role::Owner {
            return Err(ImError::Forbidden(
                "the owner cannot leave: transfer the group first",
            ));
        }
        // The event is stored while `me` is still a member, so that it is among its
        // recipients; nothing stored after the removal reaches it.
        let left = Event::new("member_left", me, &[me]);
        let events = self.reported(group, &left);
        self.announce(group, me, left).await;
        Ok(self.store.remove_member(group, me, &events).await?)
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

    /// The standing of `user` in `group`: `NotFound(Group)`, `Forbidden` if not a member.
    pub(crate) async fn standing(
        &self,
        group: GroupId,
        user: UserId,
    ) -> Result<MemberState, ImError> {
        match self.moderation.member_state(group, user).await? {
            Some(state) => Ok(state),
            None => {
                self.require_group(group).await?;
                Err(ImError::Forbidden("not a member of the group"))
            }
        }
    }

    async fn require_group(&self, group: GroupId) -> Result<Group, ImError> {
        self.store
            .group(group)
            .await?
            .ok_or(ImError::NotFound(Entity::Group))
    }

    /// The webhook event of `event` in `group` for storage to write with the change: one if
    /// its kind is wanted, else none (one atomic load).
    fn reported(&self, group: GroupId, event: &Event<'_>) -> Vec<NewEvent> {
        event.outbox(group, self.outbox.event_filter())
    }

    /// Stores `event` in the group's conversation. The change it tells of is committed
    /// already, so a failure to store it is logged, not answered: the caller's change stands.
    async fn announce(&self, group: GroupId, actor: UserId, event: Event<'_>) {
        if let Err(e) = self
            .engine
            .post_group_event(group, actor, event.content())
            .await
        {
            warn!(error = %e, group, actor, "could not store a group event");
        }
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

/// `Invalid` for an empty or over-long group name.
fn check_name(name: &str) -> Result<(), ImError> {
    if name.is_empty() {
        return Err(ImError::invalid("missing `name`"));
    }
    if name.len() > MAX_GROUP_NAME {
        return Err(ImError::invalid(format!(
            "`name` must be at most {MAX_GROUP_NAME} bytes"
        )));
    }
    Ok(())
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
