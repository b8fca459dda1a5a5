//! `users`: accounts with their ids kept, and their password hashes as legacy hashes.

use easyim_core::{
    legacy_password_hash, random_secret, AccountStore, Conflict, StorageError, User, MAX_ACCOUNT,
    MAX_NICKNAME,
};

use super::source::OrigUser;
use super::{our_id, ImportError, ImportReport};

/// Imports every user: created with its id; one already there with the same id and account
/// is left as it is.
pub(super) async fn import(
    store: &dyn AccountStore,
    users: &[OrigUser],
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for u in users {
        for (column, set) in [
            ("users.mobile", !u.mobile.is_empty()),
            ("users.email", !u.email.is_empty()),
            ("users.created_at", !u.created_at.is_empty()),
        ] {
            if set {
                report.not_kept(column);
            }
        }
        let Some(id) = our_id(u.id) else {
            report.users.skipped += 1;
            report.skip(format!("user {:?}: invalid id {}", u.account, u.id));
            continue;
        };
        if let Some(there) = store.user(id).await? {
            if there.account == u.account {
                report.users.present += 1;
            } else {
                report.users.skipped += 1;
                report.skip(format!(
                    "user {id} ({:?}): the id belongs to account {:?} here",
                    u.account, there.account
                ));
            }
            continue;
        }
        if let Err(why) = check(u) {
            report.users.skipped += 1;
            report.skip(format!("user {id} ({:?}): {why}", u.account));
            continue;
        }
        let Some(password_hash) = legacy_password_hash(&u.password_hash) else {
            report.users.skipped += 1;
            report.skip(format!(
                "user {id} ({:?}): the password hash is not a hex SHA-256",
                u.account
            ));
            continue;
        };
        let name = u.name.trim();
        let user = User {
            id,
            account: u.account.clone(),
            nickname: if name.is_empty() {
                u.account.clone()
            } else {
                name.to_owned()
            },
            avatar: u.avatar.clone(),
            password_hash,
            secret: random_secret(),
        };
        match store.create_user(user).await {
            Ok(_) => report.users.imported += 1,
            Err(StorageError::Conflict(Conflict::Account)) => {
                report.users.skipped += 1;
                report.skip(format!(
                    "user {id} ({:?}): the account name is taken here by another user",
                    u.account
                ));
            }
            Err(StorageError::Conflict(c)) => {
                report.users.skipped += 1;
                report.skip(format!("user {id} ({:?}): {c}", u.account));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The rules an account of ours follows (as registration checks them).
fn check(u: &OrigUser) -> Result<(), String> {
    if u.account.is_empty() {
        return Err("empty account name".into());
    }
    if u.account.len() > MAX_ACCOUNT || u.account.chars().any(char::is_control) {
        return Err(format!(
            "the account name must be at most {MAX_ACCOUNT} bytes, without control characters"
        ));
    }
    if u.name.trim().len() > MAX_NICKNAME {
        return Err(format!("the name is over {MAX_NICKNAME} bytes"));
    }
    Ok(())
}
