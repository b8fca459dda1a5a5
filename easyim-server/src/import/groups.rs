//! `chat_groups` (with their owners) and `chat_group_users` (their members), with their flags
//! (`settings`).

use std::collections::BTreeMap;

use easyim_core::{Conflict, GroupStore, Storage, StorageError, UserId, MAX_GROUP_NAME};

use super::friends::missing_user;
use super::source::{OrigMember, Original};
use super::{our_id, settings, ImportError, ImportReport};

/// Imports every group with its id, owner, members and flags. A group already here with the
/// same owner gets the members it lacks (none after a first run), with their flags; one whose id
/// is taken by another group is skipped.
pub(super) async fn import(
    store: &dyn Storage,
    original: &Original,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut members: BTreeMap<i64, Vec<&OrigMember>> = BTreeMap::new();
    for m in &original.members {
        members.entry(m.group_id).or_default().push(m);
    }
    for g in &original.groups {
        let rows = members.remove(&g.id).unwrap_or_default();
        let (Some(id), Some(owner)) = (our_id(g.id), our_id(g.owner)) else {
            report.groups.skipped += 1;
            report.members.skipped += rows.len();
            report.skip(format!("group {} ({:?}): invalid id", g.id, g.name));
            continue;
        };
        if g.name.len() > MAX_GROUP_NAME {
            report.groups.skipped += 1;
            report.members.skipped += rows.len();
            report.skip(format!(
                "group {id}: the name is over {MAX_GROUP_NAME} bytes"
            ));
            continue;
        }
        if let Some(why) = missing_user(store, &[owner]).await? {
            report.groups.skipped += 1;
            report.members.skipped += rows.len();
            report.skip(format!("group {id} ({:?}): its owner {why}", g.name));
            continue;
        }
        let mut users: Vec<UserId> = Vec::new();
        let mut flags: BTreeMap<UserId, &OrigMember> = BTreeMap::new();
        for m in rows {
            let Some(u) = our_id(m.user_id) else {
                report.members.skipped += 1;
                report.skip(format!("member {} of group {id}: invalid id", m.user_id));
                continue;
            };
            if let Some(why) = missing_user(store, &[u]).await? {
                report.members.skipped += 1;
                report.skip(format!("member of group {id}: {why}"));
                continue;
            }
            flags.insert(u, m);
            if u != owner && !users.contains(&u) {
                users.push(u);
            }
        }
        match store.group(id).await? {
            None => match store.create_group(id, &g.name, owner, &users).await {
                Ok(_) => {
                    report.groups.imported += 1;
                    report.members.imported += users.len() + 1;
                    settings::group(store, id, g).await?;
                    let added: Vec<UserId> = std::iter::once(owner)
                        .chain(users.iter().copied())
                        .collect();
                    member_flags(store, id, owner, &added, &flags, report).await?;
                }
                Err(StorageError::Conflict(Conflict::Group)) => {
                    report.groups.skipped += 1;
                    report.skip(format!("group {id}: created meanwhile"));
                }
                Err(e) => return Err(e.into()),
            },
            Some(here) if here.owner == owner => {
                report.groups.present += 1;
                let added = add_missing(store, id, owner, &users, report).await?;
                member_flags(store, id, owner, &added, &flags, report).await?;
            }
            Some(here) => {
                report.groups.skipped += 1;
                report.members.skipped += users.len() + 1;
                report.skip(format!(
                    "group {id} ({:?}): the id belongs to group {:?} of user {} here",
                    g.name, here.name, here.owner
                ));
            }
        }
    }
    Ok(())
}

/// Applies the original's flags of each of `added`, just made members of `group`.
async fn member_flags(
    store: &dyn Storage,
    group: u64,
    owner: UserId,
    added: &[UserId],
    flags: &BTreeMap<UserId, &OrigMember>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for u in added {
        if let Some(m) = flags.get(u) {
            settings::member(store, group, *u, owner, m, report).await?;
        }
    }
    Ok(())
}

/// Adds the members a group already here lacks, and returns them.
async fn add_missing(
    store: &dyn GroupStore,
    group: u64,
    owner: UserId,
    users: &[UserId],
    report: &mut ImportReport,
) -> Result<Vec<UserId>, ImportError> {
    let mut lacking = Vec::new();
    for &u in std::iter::once(&owner).chain(users) {
        if store.is_member(group, u).await? {
            report.members.present += 1;
        } else {
            lacking.push(u);
        }
    }
    if !lacking.is_empty() {
        store.add_members(group, &lacking).await?;
        report.members.imported += lacking.len();
    }
    Ok(lacking)
}
