//! The checks of the group part of [`ModerationStore`] (on groups made with [`GroupStore`],
//! messages stored with [`MessageStore`]); `relations` checks its part between users.

use std::sync::Arc;

use super::support::{add_users, expect_err, group_msg, ok, stored};
use crate::error::{Entity, StorageError};
use crate::roles::{
    GroupSettings, GroupUpdate, HistoryVisible, InvitePolicy, JoinPolicy, Member, MemberState, Role,
};
use crate::storage::{AccountStore, GroupStore, MessageStore, ModerationStore};
use crate::types::{GroupId, Page, RequestStatus, UserId};

async fn state<S: ModerationStore + ?Sized>(s: &S, g: GroupId, u: UserId) -> Option<MemberState> {
    ok(s.member_state(g, u).await, "member_state")
}

/// Settings: the defaults, an update of some fields (the others stay), unknown groups.
pub async fn check_group_settings<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + ModerationStore + ?Sized,
{
    let s = &*s;
    add_users(s, &[1, 2]).await;
    ok(s.create_group(100, "team", 1, &[2]).await, "create_group");
    assert_eq!(
        ok(s.group_settings(100).await, "group_settings"),
        Some(GroupSettings::default()),
        "a new group has the default settings"
    );
    assert_eq!(
        ok(s.group_settings(999).await, "group_settings"),
        None,
        "group_settings of an unknown group"
    );
    let update = GroupUpdate {
        name: Some("renamed".into()),
        notice: Some("be kind".into()),
        join_policy: Some(JoinPolicy::Open),
        history_visible: Some(HistoryVisible::All),
        mute_all: Some(true),
        ..GroupUpdate::default()
    };
    ok(s.update_group(100, &update, &[]).await, "update_group");
    let want = GroupSettings {
        avatar: String::new(),
        notice: "be kind".into(),
        join_policy: JoinPolicy::Open,
        invite_policy: InvitePolicy::Members,
        history_visible: HistoryVisible::All,
        mute_all: true,
    };
    assert_eq!(
        ok(s.group_settings(100).await, "group_settings"),
        Some(want.clone()),
        "settings after an update"
    );
    let g = ok(s.group(100).await, "group").expect("group 100");
    assert_eq!(g.name, "renamed", "update_group sets the name");
    let only_avatar = GroupUpdate {
        avatar: Some("a.png".into()),
        invite_policy: Some(InvitePolicy::Admins),
        ..GroupUpdate::default()
    };
    ok(s.update_group(100, &only_avatar, &[]).await, "update_group");
    assert_eq!(
        ok(s.group_settings(100).await, "group_settings"),
        Some(GroupSettings {
            avatar: "a.png".into(),
            invite_policy: InvitePolicy::Admins,
            ..want
        }),
        "an update leaves the fields it does not give"
    );
    expect_err(
        s.update_group(999, &only_avatar, &[]).await,
        StorageError::NotFound(Entity::Group),
        "update_group(unknown group)",
    );
}

/// Roles, mutes and ownership: who is what, what a removal forgets, the errors.
pub async fn check_member_roles<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b, c, d) = (1, 2, 3, 4);
    add_users(s, &[a, b, c, d]).await;
    ok(
        s.create_group(100, "team", a, &[b, c]).await,
        "create_group",
    );
    let role = |u| async move { state(s, 100, u).await.map(|m| m.role) };
    assert_eq!(role(a).await, Some(Role::Owner), "the creator is the owner");
    assert_eq!(
        role(b).await,
        Some(Role::Member),
        "members start as members"
    );
    assert_eq!(role(d).await, None, "a non-member has no standing");
    assert_eq!(
        state(s, 999, a).await,
        None,
        "no standing in an unknown group"
    );

    ok(s.set_role(100, b, Role::Admin, &[]).await, "set_role");
    assert_eq!(role(b).await, Some(Role::Admin), "set_role(admin)");
    expect_err(
        s.set_role(100, d, Role::Admin, &[]).await,
        StorageError::NotFound(Entity::Member),
        "set_role(non-member)",
    );
    expect_err(
        s.set_role(100, a, Role::Member, &[]).await,
        StorageError::NotFound(Entity::Member),
        "set_role(the owner)",
    );
    expect_err(
        s.set_role(999, b, Role::Admin, &[]).await,
        StorageError::NotFound(Entity::Group),
        "set_role(unknown group)",
    );

    ok(
        s.set_muted_until(100, c, 5_000, &[]).await,
        "set_muted_until",
    );
    let m = state(s, 100, c).await.expect("c is a member");
    assert_eq!(m.muted_until, 5_000, "set_muted_until");
    assert!(!m.may_speak(4_999), "muted before the end");
    assert!(m.may_speak(5_000), "free at the end");
    expect_err(
        s.set_muted_until(100, d, 1, &[]).await,
        StorageError::NotFound(Entity::Member),
        "set_muted_until(non-member)",
    );
    expect_err(
        s.set_muted_until(999, c, 1, &[]).await,
        StorageError::NotFound(Entity::Group),
        "set_muted_until(unknown group)",
    );

    let roles = ok(s.member_roles(100, &[d, c, a, b]).await, "member_roles");
    assert_eq!(
        roles,
        vec![
            Member {
                user: c,
                role: Role::Member,
                muted_until: 5_000
            },
            Member {
                user: a,
                role: Role::Owner,
                muted_until: 0
            },
            Member {
                user: b,
                role: Role::Admin,
                muted_until: 0
            },
        ],
        "member_roles: members only, in the order asked"
    );

    ok(s.transfer_owner(100, b, &[]).await, "transfer_owner");
    assert_eq!(role(b).await, Some(Role::Owner), "the new owner");
    assert_eq!(
        role(a).await,
        Some(Role::Member),
        "the old owner is a member"
    );
    assert_eq!(
        ok(s.group(100).await, "group").map(|g| g.owner),
        Some(b),
        "group().owner follows the transfer"
    );
    expect_err(
        s.transfer_owner(100, d, &[]).await,
        StorageError::NotFound(Entity::Member),
        "transfer_owner(non-member)",
    );
    expect_err(
        s.transfer_owner(999, a, &[]).await,
        StorageError::NotFound(Entity::Group),
        "transfer_owner(unknown group)",
    );

    // A removal forgets the role and the mute: a rejoin starts afresh.
    ok(s.set_role(100, a, Role::Admin, &[]).await, "set_role");
    ok(s.remove_member(100, c, &[]).await, "remove_member");
    ok(s.remove_member(100, a, &[]).await, "remove_member");
    ok(s.add_members(100, &[a, c]).await, "add_members");
    assert_eq!(
        role(a).await,
        Some(Role::Member),
        "a rejoined admin is a member"
    );
    assert_eq!(
        state(s, 100, c).await.map(|m| m.muted_until),
        Some(0),
        "a rejoined member is not muted"
    );
}

/// The join position: 0 for the founders, the group's last `conv_seq` for a later member,
/// reset by a rejoin; and the group-wide mute in every member's standing.
pub async fn check_join_position<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + MessageStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b, c) = (1, 2, 3);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(100, "team", a, &[b]).await, "create_group");
    for i in 0..3 {
        stored(s, group_msg(&format!("m{i}"), a, 100)).await;
    }
    ok(s.add_members(100, &[c]).await, "add_members");
    let joined = |u| async move { state(s, 100, u).await.map(|m| m.joined_seq) };
    assert_eq!(joined(b).await, Some(0), "a founder's join position");
    assert_eq!(joined(c).await, Some(3), "a later member's join position");
    stored(s, group_msg("m3", a, 100)).await;
    ok(s.remove_member(100, c, &[]).await, "remove_member");
    ok(s.add_members(100, &[c]).await, "add_members");
    assert_eq!(joined(c).await, Some(4), "a rejoin moves the join position");
    ok(
        s.update_group(
            100,
            &GroupUpdate {
                mute_all: Some(true),
                ..GroupUpdate::default()
            },
            &[],
        )
        .await,
        "update_group",
    );
    let (sa, sb) = (
        state(s, 100, a).await.expect("a"),
        state(s, 100, b).await.expect("b"),
    );
    assert!(sa.mute_all && sb.mute_all, "mute_all in every standing");
    assert!(sa.may_speak(0), "the owner speaks under mute_all");
    assert!(!sb.may_speak(0), "a member does not under mute_all");
}

/// Join requests: one open per user and group, listed by group, answered once; and who the
/// group's admins are.
pub async fn check_join_requests<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b, c, d) = (1, 2, 3, 4);
    add_users(s, &[a, b, c, d]).await;
    ok(s.create_group(100, "team", a, &[b]).await, "create_group");
    ok(s.create_group(200, "other", a, &[]).await, "create_group");
    let mut admins = ok(s.group_admins(100).await, "group_admins");
    admins.sort_unstable();
    assert_eq!(admins, vec![a], "the owner alone");
    ok(s.set_role(100, b, Role::Admin, &[]).await, "set_role");
    let mut admins = ok(s.group_admins(100).await, "group_admins");
    admins.sort_unstable();
    assert_eq!(admins, vec![a, b], "owner and admin");
    assert!(
        ok(s.group_admins(999).await, "group_admins").is_empty(),
        "group_admins of an unknown group"
    );

    let r = ok(
        s.create_join_request(10, 100, c, &[]).await,
        "create_join_request",
    );
    assert_eq!(
        (r.id, r.group, r.user, r.status),
        (10, 100, c, RequestStatus::Open),
        "a new request"
    );
    let again = ok(
        s.create_join_request(11, 100, c, &[]).await,
        "create_join_request",
    );
    assert_eq!(again.id, 10, "one open request per user and group");
    ok(
        s.create_join_request(12, 100, d, &[]).await,
        "create_join_request",
    );
    ok(
        s.create_join_request(13, 200, c, &[]).await,
        "create_join_request",
    );
    expect_err(
        s.create_join_request(12, 200, d, &[]).await,
        StorageError::Conflict(crate::error::Conflict::Request),
        "create_join_request(a taken id)",
    );
    expect_err(
        s.create_join_request(14, 999, c, &[]).await,
        StorageError::NotFound(Entity::Group),
        "create_join_request(unknown group)",
    );
    let ids = |page: Page| async move {
        ok(s.join_requests(100, page).await, "join_requests")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(Page::first(10)).await,
        vec![10, 12],
        "join_requests(100)"
    );
    assert_eq!(ids(Page::new(Some(10), 10)).await, vec![12], "after 10");

    ok(
        s.answer_join_request(10, true, &[]).await,
        "answer_join_request",
    );
    expect_err(
        s.answer_join_request(10, false, &[]).await,
        StorageError::Conflict(crate::error::Conflict::AlreadyAnswered),
        "answer_join_request twice",
    );
    expect_err(
        s.answer_join_request(99, true, &[]).await,
        StorageError::NotFound(Entity::Request),
        "answer_join_request(unknown)",
    );
    assert_eq!(
        ok(s.join_request(10).await, "join_request").map(|r| r.status),
        Some(RequestStatus::Accepted),
        "an accepted request"
    );
    assert_eq!(
        ok(s.join_request(99).await, "join_request"),
        None,
        "unknown"
    );
    assert_eq!(
        ids(Page::first(10)).await,
        vec![12],
        "answered requests are not listed"
    );
    ok(
        s.answer_join_request(12, false, &[]).await,
        "answer_join_request",
    );
    let fresh = ok(
        s.create_join_request(15, 100, d, &[]).await,
        "create_join_request",
    );
    assert_eq!(fresh.id, 15, "a refused user may ask again");
}

/// Dismissal: the group, its members, their pending messages and its requests are gone; other
/// groups are not touched.
pub async fn check_dismiss<S>(s: Arc<S>)
where
    S: AccountStore + GroupStore + MessageStore + ModerationStore + ?Sized,
{
    let s = &*s;
    let (a, b) = (1, 2);
    add_users(s, &[a, b]).await;
    ok(s.create_group(100, "team", a, &[b]).await, "create_group");
    ok(s.create_group(200, "other", a, &[b]).await, "create_group");
    stored(s, group_msg("m1", a, 100)).await;
    stored(s, group_msg("o1", a, 200)).await;
    ok(
        s.create_join_request(10, 100, 3, &[]).await,
        "create_join_request",
    );
    ok(s.dismiss_group(100, &[]).await, "dismiss_group");
    assert_eq!(
        ok(s.group(100).await, "group"),
        None,
        "a dismissed group is gone"
    );
    assert!(
        !ok(s.is_member(100, b).await, "is_member"),
        "no members left"
    );
    assert_eq!(state(s, 100, a).await, None, "no standing left");
    assert_eq!(
        ok(s.group_settings(100).await, "group_settings"),
        None,
        "no settings left"
    );
    assert_eq!(
        ok(s.join_request(10).await, "join_request"),
        None,
        "no requests left"
    );
    let groups: Vec<GroupId> = ok(s.groups_of(b, Page::first(10)).await, "groups_of")
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, vec![200], "the other group stays");
    let pending: Vec<String> = ok(s.pending(b, 0, 10).await, "pending")
        .into_iter()
        .map(|p| p.message.id)
        .collect();
    assert_eq!(
        pending,
        vec!["o1".to_owned()],
        "nothing of the dismissed group is pending"
    );
    expect_err(
        s.dismiss_group(100, &[]).await,
        StorageError::NotFound(Entity::Group),
        "dismiss_group twice",
    );
}
