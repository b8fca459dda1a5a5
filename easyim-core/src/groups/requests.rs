//! Join requests: how a user gets into a group that takes members on approval.

use easyim_proto::frames;

use super::{Event, Groups};
use crate::error::{Entity, ImError};
use crate::limits::{checked_limit, MAX_LIST_LIMIT};
use crate::roles::JoinRequest;
use crate::types::{GroupId, Page, Paged, UserId};

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The caller is a member (now, or already).
    Member,
    /// The group takes members on approval: this request waits for an admin.
    Requested(JoinRequest),
}

impl Groups {
    /// Files `me`'s request to join `group` (its open one if it has one) and tells the owner
    /// and admins online.
    pub(super) async fn request_join(&self, me: UserId, group: GroupId) -> Result<Joined, ImError> {
        if self.store.is_member(group, me).await? {
            return Ok(Joined::Member);
        }
        let id = self.engine.next_id();
        let event = Event::new("join_requested", me, &[]).with("request_id", id.to_string());
        let events = self.reported(group, &event);
        let request = self
            .moderation
            .create_join_request(id, group, me, &events)
            .await?;
        if request.id == id {
            let admins = self.moderation.group_admins(group).await?;
            for admin in admins {
                let text = format!("JOIN_REQUEST: {group} {id}");
                self.engine
                    .notify(admin, frames::notice(&admin.to_string(), text));
            }
        }
        Ok(Joined::Requested(request))
    }

    /// A page of the open join requests of `group`, by id ascending, for its owner and
    /// admins: `Invalid` for a limit out of 1 to [`MAX_LIST_LIMIT`], `NotFound(Group)`,
    /// `Forbidden`.
    pub async fn join_requests(
        &self,
        me: UserId,
        group: GroupId,
        page: Page,
    ) -> Result<Paged<JoinRequest>, ImError> {
        let limit = checked_limit(page.limit, MAX_LIST_LIMIT)?;
        if !self.standing(group, me).await?.role.is_admin() {
            return Err(ImError::Forbidden("only the owner and admins may do this"));
        }
        let rows = self
            .moderation
            .join_requests(group, Page::new(page.after, limit + 1))
            .await?;
        Ok(Paged::from_rows(rows, limit, |r| r.id))
    }

    /// Approves (the user becomes a member, with a `member_joined` event by `me`) or refuses
    /// join request `id`; for the group's owner and admins. `NotFound(Request)` (also for a
    /// request of a group `me` does not run: it tells nothing of other groups),
    /// `Conflict(AlreadyAnswered)`, `Forbidden` past either limit (the request stays open).
    pub async fn answer_join_request(
        &self,
        me: UserId,
        id: u64,
        accept: bool,
    ) -> Result<(), ImError> {
        let request = self
            .moderation
            .join_request(id)
            .await?
            .ok_or(ImError::NotFound(Entity::Request))?;
        let admin = self
            .moderation
            .member_state(request.group, me)
            .await?
            .is_some_and(|s| s.role.is_admin());
        if !admin {
            return Err(ImError::NotFound(Entity::Request));
        }
        if request.status != crate::types::RequestStatus::Open {
            return Err(ImError::Conflict(crate::error::Conflict::AlreadyAnswered));
        }
        if accept && !self.store.is_member(request.group, request.user).await? {
            self.add_member(me, request.group, request.user).await?;
        }
        let event = Event::new("join_answered", me, &[request.user])
            .with("request_id", id.to_string())
            .with("accepted", accept);
        let events = self.reported(request.group, &event);
        match self
            .moderation
            .answer_join_request(id, accept, &events)
            .await
        {
            // Another admin answered meanwhile; the user is in (or out) as asked either way.
            Err(crate::StorageError::Conflict(_)) if accept => Ok(()),
            other => Ok(other?),
        }
    }
}
