//! What the owner and the admins do to a group: kick, mute, roles, ownership and settings;
//! and what members see of it (its info, the members with their roles).
//!
//! Admins act on members; only the owner acts on admins. Each change is stored as a group
//! event after it is committed (a removal before it, so that the removed member gets it), and
//! its webhook event is written with it.

use tracing::instrument;

use super::{check_name, Event, Groups};
use crate::error::{Entity, ImError};
use crate::ids::now_ms;
use crate::limits::check_ids;
use crate::roles::{GroupSettings, GroupUpdate, Member, MemberState, Role};
use crate::types::{Group, GroupId, Page, Paged, Profile, UserId};

/// Longest group notice, in bytes.
pub const MAX_GROUP_NOTICE: usize = 4096;
/// Longest group avatar, in bytes.
pub const MAX_GROUP_AVATAR: usize = 1024;
/// Longest mute, in seconds (a year).
pub const MAX_MUTE_SECONDS: u64 = 366 * 24 * 3600;

/// A group as its members see it: the group, its settings, and the caller's own standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group.
    pub group: Group,
    /// Its settings.
    pub settings: GroupSettings,
    /// The caller's role.
    pub role: Role,
    /// Until when the caller is muted (milliseconds since the Unix epoch); 0 if it is not.
    pub muted_until: i64,
}

/// `Invalid` for a field of `u` out of its bounds.
pub(super) fn check_update(u: &GroupUpdate) -> Result<(), ImError> {
    if let Some(name) = &u.name {
        check_name(name)?;
    }
    if u.notice
        .as_ref()
        .is_some_and(|n| n.len() > MAX_GROUP_NOTICE)
    {
        return Err(ImError::invalid(format!(
            "`notice` must be at most {MAX_GROUP_NOTICE} bytes"
        )));
    }
    if u.avatar
        .as_ref()
        .is_some_and(|a| a.len() > MAX_GROUP_AVATAR)
    {
        return Err(ImError::invalid(format!(
            "`avatar` must be at most {MAX_GROUP_AVATAR} bytes"
        )));
    }
    Ok(())
}

/// `Forbidden` unless `actor` may act on a member of role `target`: admins on members, the
/// owner on everyone else.
fn outranks(actor: Role, target: Role) -> Result<(), ImError> {
    if !actor.is_admin() {
        return Err(ImError::Forbidden("only the owner and admins may do this"));
    }
    if actor.code() <= target.code() {
        return Err(ImError::Forbidden(
            "only the owner may act on admins, and nobody on the owner",
        ));
    }
    Ok(())
}

impl Groups {
    /// The caller's standing, which must be the owner's: `Forbidden` otherwise.
    async fn require_owner(&self, group: GroupId, me: UserId) -> Result<MemberState, ImError> {
        let state = self.standing(group, me).await?;
        if state.role != Role::Owner {
            return Err(ImError::Forbidden("only the owner may do this"));
        }
        Ok(state)
    }

    /// The role of `user`, which must be a member: `NotFound(Member)` otherwise.
    async fn role_of(&self, group: GroupId, user: UserId) -> Result<Role, ImError> {
        self.moderation
            .member_state(group, user)
            .await?
            .map(|s| s.role)
            .ok_or(ImError::NotFound(Entity::Member))
    }

    /// Removes `users` from `group`; each gets the `member_kicked` event, then nothing more of
    /// the group. `Invalid` for no users or too many, `NotFound(Group)`, `Forbidden` unless
    /// `me` outranks every one of them, `NotFound(Member)` if one is not a member (nobody is
    /// removed then).
    #[instrument(skip(self, users), fields(users = users.len()))]
    pub async fn kick(&self, me: UserId, group: GroupId, users: &[UserId]) -> Result<(), ImError> {
        if users.is_empty() {
            return Err(ImError::invalid("missing `user_ids`"));
        }
        check_ids("user_ids", users)?;
        let mine = self.standing(group, me).await?.role;
        let mut targets = users.to_vec();
        targets.sort_unstable();
        targets.dedup();
        for &user in &targets {
            outranks(mine, self.role_of(group, user).await?)?;
        }
        self.announce(group, me, Event::new("member_kicked", me, &targets))
            .await;
        let report = self
            .outbox
            .event_filter()
            .wants(crate::events::EventKind::GroupMemberKicked);
        for &user in &targets {
            // One webhook event per removal, written with it: a member gone meanwhile was not
            // kicked.
            let events = if report {
                self.reported(group, &Event::new("member_kicked", me, &[user]))
            } else {
                Vec::new()
            };
            match self.store.remove_member(group, user, &events).await {
                // Gone already (it left meanwhile): what was asked holds.
                Err(crate::StorageError::NotFound(Entity::Member)) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Mutes `user` for `seconds` (0 lifts the mute): it gets `E_MUTED` for what it sends to
    /// the group until then. `Invalid` past [`MAX_MUTE_SECONDS`], `NotFound(Group)`,
    /// `NotFound(Member)`, `Forbidden` unless `me` outranks it.
    pub async fn mute(
        &self,
        me: UserId,
        group: GroupId,
        user: UserId,
        seconds: u64,
    ) -> Result<(), ImError> {
        if seconds > MAX_MUTE_SECONDS {
            return Err(ImError::invalid(format!(
                "`seconds` must be at most {MAX_MUTE_SECONDS}"
            )));
        }
        let mine = self.standing(group, me).await?.role;
        outranks(mine, self.role_of(group, user).await?)?;
        let until = if seconds == 0 {
            0
        } else {
            now_ms() as i64 + seconds as i64 * 1000
        };
        let event = if seconds == 0 {
            Event::new("member_unmuted", me, &[user])
        } else {
            Event::new("member_muted", me, &[user])
                .with("seconds", seconds)
                .with("until", until)
        };
        let events = self.reported(group, &event);
        self.moderation
            .set_muted_until(group, user, until, &events)
            .await?;
        self.announce(group, me, event).await;
        Ok(())
    }

    /// Turns the group-wide mute on or off: while on, only the owner and admins may send.
    /// `NotFound(Group)`, `Forbidden` for a member that is not an admin.
    pub async fn mute_all(&self, me: UserId, group: GroupId, muted: bool) -> Result<(), ImError> {
        if !self.standing(group, me).await?.role.is_admin() {
            return Err(ImError::Forbidden("only the owner and admins may do this"));
        }
        let update = GroupUpdate {
            mute_all: Some(muted),
            ..GroupUpdate::default()
        };
        let event = Event::new(
            if muted {
                "group_muted"
            } else {
                "group_unmuted"
            },
            me,
            &[],
        );
        let events = self.reported(group, &event);
        self.moderation
            .update_group(group, &update, &events)
            .await?;
        self.announce(group, me, event).await;
        Ok(())
    }

    /// Makes `user` an admin or a member (`role` is never the owner: see
    /// [`Groups::transfer`]). `Invalid` for [`Role::Owner`], `NotFound(Group)`, `Forbidden`
    /// unless `me` is the owner, `NotFound(Member)`.
    pub async fn set_role(
        &self,
        me: UserId,
        group: GroupId,
        user: UserId,
        role: Role,
    ) -> Result<(), ImError> {
        if role == Role::Owner {
            return Err(ImError::invalid(
                "`role` must be `admin` or `member` (the owner changes by transfer)",
            ));
        }
        self.require_owner(group, me).await?;
        if user == me {
            return Err(ImError::Forbidden("the owner's role changes by transfer"));
        }
        let event = Event::new("role_changed", me, &[user]).with("role", role.as_str());
        let events = self.reported(group, &event);
        self.moderation.set_role(group, user, role, &events).await?;
        self.announce(group, me, event).await;
        Ok(())
    }

    /// Makes member `user` the owner; `me`, the owner, becomes a member. `NotFound(Group)`,
    /// `Forbidden` unless `me` is the owner, `NotFound(Member)`.
    pub async fn transfer(&self, me: UserId, group: GroupId, user: UserId) -> Result<(), ImError> {
        self.require_owner(group, me).await?;
        if user == me {
            return Ok(());
        }
        let event = Event::new("owner_changed", me, &[user]);
        let events = self.reported(group, &event);
        self.moderation.transfer_owner(group, user, &events).await?;
        self.announce(group, me, event).await;
        Ok(())
    }

    /// Dismisses the group: every member gets the `group_dismissed` event, then the group,
    /// its members and their pending messages of it are gone. `NotFound(Group)`, `Forbidden`
    /// unless `me` is the owner.
    pub async fn dismiss(&self, me: UserId, group: GroupId) -> Result<(), ImError> {
        self.require_owner(group, me).await?;
        let event = Event::new("group_dismissed", me, &[]);
        let events = self.reported(group, &event);
        self.announce(group, me, event).await;
        Ok(self.moderation.dismiss_group(group, &events).await?)
    }

    /// Changes the group's name, avatar, notice and policies (the fields of `update` that are
    /// `Some`; its `mute_all` is [`Groups::mute_all`]'s). `Invalid` for nothing to change or a
    /// field out of bounds, `NotFound(Group)`, `Forbidden` for a member that is not an admin.
    pub async fn update(
        &self,
        me: UserId,
        group: GroupId,
        update: &GroupUpdate,
    ) -> Result<(), ImError> {
        let update = GroupUpdate {
            mute_all: None,
            ..update.clone()
        };
        if update.is_empty() {
            return Err(ImError::invalid("nothing to change"));
        }
        check_update(&update)?;
        if !self.standing(group, me).await?.role.is_admin() {
            return Err(ImError::Forbidden("only the owner and admins may do this"));
        }
        let event = updated_event(me, &update);
        let events = self.reported(group, &event);
        self.moderation
            .update_group(group, &update, &events)
            .await?;
        self.announce(group, me, event).await;
        Ok(())
    }

    /// The group, its settings and the caller's standing, for its members: `NotFound(Group)`,
    /// `Forbidden`.
    pub async fn info(&self, me: UserId, group: GroupId) -> Result<GroupInfo, ImError> {
        let state = self.standing(group, me).await?;
        let found = self.require_group(group).await?;
        let settings = self
            .moderation
            .group_settings(group)
            .await?
            .ok_or(ImError::NotFound(Entity::Group))?;
        Ok(GroupInfo {
            group: found,
            settings,
            role: state.role,
            muted_until: state.muted_until,
        })
    }

    /// [`Groups::members`], each with its role and mute.
    pub async fn members_with_roles(
        &self,
        me: UserId,
        group: GroupId,
        page: Page,
    ) -> Result<Paged<(Profile, Member)>, ImError> {
        let members = self.members(me, group, page).await?;
        let ids: Vec<UserId> = members.items.iter().map(|p| p.id).collect();
        let roles = self.moderation.member_roles(group, &ids).await?;
        let items = members
            .items
            .into_iter()
            .map(|p| {
                let member = roles
                    .iter()
                    .find(|m| m.user == p.id)
                    .cloned()
                    .unwrap_or(Member {
                        user: p.id,
                        role: Role::Member,
                        muted_until: 0,
                    });
                (p, member)
            })
            .collect();
        Ok(Paged {
            items,
            next: members.next,
        })
    }
}

/// The `group_updated` event: the fields that changed, with their new values.
fn updated_event(me: UserId, u: &GroupUpdate) -> Event<'static> {
    let mut e = Event::new("group_updated", me, &[]);
    if let Some(v) = &u.name {
        e = e.with("name", v.as_str());
    }
    if let Some(v) = &u.avatar {
        e = e.with("avatar", v.as_str());
    }
    if let Some(v) = &u.notice {
        e = e.with("notice", v.as_str());
    }
    if let Some(v) = u.join_policy {
        e = e.with("join_policy", v.as_str());
    }
    if let Some(v) = u.invite_policy {
        e = e.with("invite_policy", v.as_str());
    }
    if let Some(v) = u.history_visible {
        e = e.with("history_visible", v.as_str());
    }
    e
}
