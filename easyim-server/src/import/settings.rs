//! The original's per-group and per-member flags, applied to what this run created: a group's
//! `join_check` and group-wide mute, a member's mute, do-not-disturb and pin. What was here
//! before the run keeps the settings it has (they may have been changed since).

use easyim_core::{
    now_ms, Conversation, GroupId, GroupUpdate, JoinPolicy, SettingsChange, Storage, UserId,
    MAX_MUTE_SECONDS,
};

use super::source::{OrigGroup, OrigMember};
use super::{ImportError, ImportReport};

/// How long the original's open-ended member mute lasts here: the longest mute a group's
/// admins can set (an admin lifts it at any time).
const IMPORTED_MUTE_MS: i64 = MAX_MUTE_SECONDS as i64 * 1000;

/// Applies `g`'s flags to the group just created as `id`: `join_check` makes joining need an
/// admin's approval (otherwise the group takes the default, invitations only), `status` 1
/// mutes everyone but the owner and admins.
pub(super) async fn group(
    store: &dyn Storage,
    id: GroupId,
    g: &OrigGroup,
) -> Result<(), ImportError> {
    let update = GroupUpdate {
        join_policy: (g.join_check != 0).then_some(JoinPolicy::Approval),
        mute_all: (g.status == 1).then_some(true),
        ..GroupUpdate::default()
    };
    if !update.is_empty() {
        store.update_group(id, &update, &[]).await?;
    }
    Ok(())
}

/// Applies `m`'s flags to `user`, just added to group `id`: `status` 1 mutes it (never the
/// owner), `be_quiet` mutes the group's conversation for it (do not disturb), `sort` > 0 pins it.
pub(super) async fn member(
    store: &dyn Storage,
    id: GroupId,
    user: UserId,
    owner: UserId,
    m: &OrigMember,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    if m.status == 1 {
        if user == owner {
            report.skip(format!(
                "mute of group {id}'s owner {user}: an owner is never muted"
            ));
        } else {
            store
                .set_muted_until(id, user, now_ms() as i64 + IMPORTED_MUTE_MS, &[])
                .await?;
        }
    }
    let change = SettingsChange {
        pinned: (m.sort > 0).then_some(true),
        muted: (m.be_quiet != 0).then_some(true),
    };
    if change.pinned.is_some() || change.muted.is_some() {
        store
            .set_conversation_settings(user, Conversation::Group(id), change)
            .await?;
    }
    Ok(())
}
