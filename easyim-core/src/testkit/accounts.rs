//! The checks of [`AccountStore`]: accounts, search, the server secret, `ping`.

use std::sync::Arc;

use super::support::{add_user, expect_err, ok, profile_ids, test_user};
use crate::error::{Conflict, Entity, StorageError};
use crate::storage::AccountStore;
use crate::types::{User, UserId};

/// Accounts: create, `Conflict("account")`, lookup by id and account, `set_user_secret`,
/// `set_password_hash`.
pub async fn check_accounts<S: AccountStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let alice = test_user(1, "alice");
    add_user(s, 1, "alice").await;
    let mut other = test_user(2, "alice");
    other.nickname = "another alice".to_owned();
    expect_err(
        s.create_user(other).await,
        StorageError::Conflict(Conflict::Account),
        "create_user with a taken account",
    );
    assert_eq!(
        ok(s.user(1).await, "user(1)"),
        Some(alice.clone()),
        "user(1)"
    );
    assert_eq!(
        ok(s.user(2).await, "user(2)"),
        None,
        "user(2): the conflicting account must not have been created"
    );
    assert_eq!(
        ok(s.user_by_account("alice").await, "user_by_account"),
        Some(alice.clone()),
        "user_by_account(\"alice\")"
    );
    for name in ["ali", "Alice", "alice2", ""] {
        assert_eq!(
            ok(s.user_by_account(name).await, "user_by_account"),
            None,
            "user_by_account({name:?}) must match the exact account only"
        );
    }
    add_user(s, 3, "bob").await;
    ok(s.set_user_secret(1, "rotated").await, "set_user_secret");
    let after = ok(s.user(1).await, "user(1)").expect("user 1 vanished after set_user_secret");
    assert_eq!(
        after.secret, "rotated",
        "set_user_secret did not change the secret"
    );
    assert_eq!(
        User {
            secret: alice.secret.clone(),
            ..after
        },
        alice,
        "set_user_secret changed more than the secret"
    );
    assert_eq!(
        ok(s.user(3).await, "user(3)").map(|u| u.secret),
        Some("secret-3".to_owned()),
        "set_user_secret(1) changed another user's secret"
    );
    expect_err(
        s.set_user_secret(999, "x").await,
        StorageError::NotFound(Entity::User),
        "set_user_secret for an unknown user",
    );
    let bob = ok(s.user(3).await, "user(3)").expect("user 3");
    ok(
        s.set_password_hash(3, "new-hash").await,
        "set_password_hash",
    );
    let rehashed = ok(s.user(3).await, "user(3)").expect("user 3 vanished after set_password_hash");
    assert_eq!(
        rehashed,
        User {
            password_hash: "new-hash".to_owned(),
            ..bob
        },
        "set_password_hash must change the password hash and nothing else"
    );
    assert_eq!(
        ok(s.user(1).await, "user(1)").map(|u| u.password_hash),
        Some(alice.password_hash.clone()),
        "set_password_hash(3) changed another user's hash"
    );
    expect_err(
        s.set_password_hash(999, "x").await,
        StorageError::NotFound(Entity::User),
        "set_password_hash for an unknown user",
    );
}

/// `search_users`: case-sensitive substring, ordered by id, at most `limit`.
pub async fn check_search_users<S: AccountStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    // Created out of id order: results must come by id, not by insertion.
    for (id, account) in [
        (15, "kabob"),
        (11, "bobby"),
        (13, "Bobcat"),
        (10, "bob"),
        (12, "alice"),
    ] {
        add_user(s, id, account).await;
    }
    let search = |q: &'static str, limit: usize| async move {
        let what = format!("search_users({q:?}, {limit})");
        profile_ids(&ok(s.search_users(q, limit).await, &what))
    };
    assert_eq!(
        search("bob", 50).await,
        vec![10, 11, 15],
        "search_users(\"bob\", 50)"
    );
    assert_eq!(
        search("bob", 2).await,
        vec![10, 11],
        "search_users(\"bob\", 2)"
    );
    assert_eq!(
        search("Bob", 50).await,
        vec![13],
        "search_users(\"Bob\") is case-sensitive"
    );
    assert_eq!(
        search("zzz", 50).await,
        Vec::<UserId>::new(),
        "search_users(\"zzz\")"
    );
    assert_eq!(
        search("", 3).await,
        vec![10, 11, 12],
        "search_users(\"\", 3)"
    );
    assert_eq!(
        search("bob", 0).await,
        Vec::<UserId>::new(),
        "search_users(\"bob\", 0)"
    );
    let got = ok(s.search_users("alice", 10).await, "search_users");
    assert_eq!(
        got,
        vec![test_user(12, "alice").profile()],
        "search_users must return full profiles"
    );
}

/// `server_secret`: the first candidate is stored and returned from then on.
pub async fn check_server_secret<S: AccountStore + ?Sized>(s: Arc<S>) {
    let first = ok(s.server_secret("first").await, "server_secret");
    assert_eq!(
        first, "first",
        "server_secret with nothing stored must store the candidate"
    );
    for candidate in ["second", "first", ""] {
        assert_eq!(
            ok(s.server_secret(candidate).await, "server_secret"),
            "first",
            "server_secret({candidate:?}) must return the stored secret"
        );
    }
}

/// `ping` succeeds on a working storage.
pub async fn check_ping<S: AccountStore + ?Sized>(s: Arc<S>) {
    ok(s.ping().await, "ping");
}

/// `advance_refresh`: each generation of a family advances once, also under concurrent calls;
/// families are per user and independent; `set_user_secret` forgets the user's families.
pub async fn check_refresh_families<S: AccountStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    add_user(s, 1, "one").await;
    add_user(s, 2, "two").await;
    let adv = |user, family, generation| async move {
        ok(
            s.advance_refresh(user, family, generation).await,
            "advance_refresh",
        )
    };
    assert!(adv(1, 7, 0).await, "a new family starts at generation 0");
    assert!(!adv(1, 7, 0).await, "generation 0 is spent");
    assert!(!adv(1, 7, 2).await, "a generation ahead is not current");
    assert!(adv(1, 7, 1).await, "then 1");
    assert!(
        adv(1, 8, 0).await,
        "another family of the same user is its own"
    );
    assert!(
        adv(2, 7, 0).await,
        "the same family number of another user is its own"
    );
    assert!(
        !adv(1, 9, 3).await,
        "a family never seen is at generation 0"
    );
    // Of many concurrent uses of one generation, exactly one wins.
    let calls = (0..8).map(|_| adv(1, 7, 2));
    let wins = futures::future::join_all(calls)
        .await
        .into_iter()
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1, "concurrent uses of one refresh token: one wins");
    // A new secret forgets the user's families (its tokens are dead anyway); not another's.
    ok(s.set_user_secret(1, "new secret").await, "set_user_secret");
    assert!(
        adv(1, 7, 0).await,
        "after set_user_secret the family is new"
    );
    assert!(!adv(2, 7, 0).await, "the other user's family is kept");
}
