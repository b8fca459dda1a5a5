//! The storage conformance kit: checks that a storage keeps the contracts its traits document;
//! and [`Client`], an in-process engine client for embedders' tests.
//!
//! A team implementing [`Storage`] for its own database runs [`run_all`] from a test, giving it
//! a function that opens a fresh, empty storage; every check gets its own. It panics naming each
//! failed check and what was wrong. A backend written trait by trait is tested part by part,
//! one entry point per trait:
//!
//! | entry point             | checks              | the storage must also implement  |
//! |-------------------------|---------------------|----------------------------------|
//! | [`run_account_store`]   | [`AccountStore`]    | nothing else                     |
//! | [`run_friend_store`]    | [`FriendStore`]     | [`AccountStore`] (to make users) |
//! | [`run_group_store`]     | [`GroupStore`]      | [`AccountStore`] (to make users) |
//! | [`run_message_store`]   | [`MessageStore`]    | [`AccountStore`] and [`GroupStore`] (users and groups to write to) |
//! | [`run_conversation_store`] | [`ConversationStore`] and [`MessageStore::record_read`] | [`AccountStore`], [`GroupStore`], [`MessageStore`] (the counts come from messages) |
//! | [`run_moderation_store`] | [`ModerationStore`] | [`AccountStore`], [`FriendStore`], [`GroupStore`] and [`MessageStore`] |
//! | [`run_device_store`]    | [`DeviceStore`]     | [`AccountStore`] (to make users) |
//! | [`run_outbox_store`]    | [`OutboxStore`]     | [`AccountStore`], [`FriendStore`], [`GroupStore`], [`ModerationStore`], [`MessageStore`] (the events they write) |
//!
//! Each check is also a public `check_*` function, to run one alone while fixing it.
//!
//! ```ignore
//! #[tokio::test]
//! async fn conformance() {
//!     easyim_core::testkit::run_all(|| async {
//!         Arc::new(MyStorage::open_empty().await) as Arc<dyn Storage>
//!     })
//!     .await;
//! }
//!
//! #[tokio::test]
//! async fn accounts_first() {
//!     // Only `AccountStore` written so far.
//!     easyim_core::testkit::run_account_store(|| async { Arc::new(MyAccounts::new()) }).await;
//! }
//! ```
//!
//! The checks spawn nothing: concurrency comes from `futures::future::join_all`, so they run
//! on any executor. A backend that works on its own threads (a connection pool, a writer
//! thread) then really sees concurrent calls. [`Client`] does spawn its session: it needs a
//! tokio runtime.

mod accounts;
mod amend;
mod batches;
mod caps;
mod change_events;
mod client;
mod conversations;
mod devices;
mod failing;
mod friends;
mod groups;
mod hidden;
mod memory_im;
mod messages;
mod moderation;
mod nodes;
mod outbox;
mod paging;
mod pending;
mod receipts;
mod relations;
mod service;
mod support;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

pub use accounts::{
    check_accounts, check_ping, check_refresh_families, check_search_users, check_server_secret,
};
pub use amend::check_amend;
pub use batches::check_store_batches;
pub use caps::{check_concurrent_caps, check_group_caps};
pub use change_events::{check_outbox_friend_events, check_outbox_group_events};
pub use client::{login_frame, Client, ClientError};
pub use conversations::{
    check_conversation_counts, check_conversation_pages, check_conversation_settings,
    ConversationChecked,
};
pub use devices::check_devices;
pub use failing::FailingStorage;
pub use friends::check_friends;
pub use groups::check_groups;
pub use hidden::check_hidden;
pub use memory_im::{memory_im, sign_up};
pub use messages::{
    check_concurrent_conv_seq, check_conv_seq, check_idempotency, check_store_rejections,
};
pub use moderation::{
    check_dismiss, check_group_settings, check_join_position, check_join_requests,
    check_member_roles,
};
pub use nodes::{
    check_concurrent_migrations, check_two_nodes_conv_seq, check_two_nodes_share_outbox,
    measure_store_throughput,
};
pub use outbox::{check_outbox_claims, check_outbox_writes};
pub use paging::{check_friend_pages, check_group_pages};
pub use pending::{check_pending, check_pending_membership};
pub use receipts::{check_history, check_receipts};
pub use relations::{check_blocks, check_friend_remarks};
pub use service::service_url;

use crate::storage::{
    AccountStore, ConversationStore, DeviceStore, FriendStore, GroupStore, MessageStore,
    ModerationStore, OutboxStore, Storage,
};

/// One check: it panics with what was wrong.
type Check<S> = fn(Arc<S>) -> BoxFuture<'static, ()>;

/// A named list of checks, in the order they run.
type Checks<S> = Vec<(&'static str, Check<S>)>;

fn account_checks<S: AccountStore + ?Sized>() -> Checks<S> {
    vec![
        ("accounts", |s| check_accounts(s).boxed()),
        ("search_users", |s| check_search_users(s).boxed()),
        ("server_secret", |s| check_server_secret(s).boxed()),
        ("ping", |s| check_ping(s).boxed()),
        ("refresh_families", |s| check_refresh_families(s).boxed()),
    ]
}

fn device_checks<S: AccountStore + DeviceStore + ?Sized>() -> Checks<S> {
    vec![("devices", |s| check_devices(s).boxed())]
}

fn outbox_checks<S>() -> Checks<S>
where
    S: AccountStore + FriendStore + GroupStore + ModerationStore + MessageStore + OutboxStore,
    S: ?Sized,
{
    vec![
        ("outbox_writes", |s| check_outbox_writes(s).boxed()),
        ("outbox_claims", |s| check_outbox_claims(s).boxed()),
        ("outbox_friend_events", |s| {
            check_outbox_friend_events(s).boxed()
        }),
        ("outbox_group_events", |s| {
            check_outbox_group_events(s).boxed()
        }),
    ]
}

fn friend_checks<S: AccountStore + FriendStore + ?Sized>() -> Checks<S> {
    vec![
        ("friends", |s| check_friends(s).boxed()),
        ("friend_pages", |s| check_friend_pages(s).boxed()),
    ]
}

fn group_checks<S: AccountStore + GroupStore + ?Sized>() -> Checks<S> {
    vec![
        ("groups", |s| check_groups(s).boxed()),
        ("group_pages", |s| check_group_pages(s).boxed()),
        ("group_caps", |s| check_group_caps(s).boxed()),
        ("concurrent_caps", |s| check_concurrent_caps(s).boxed()),
    ]
}

fn moderation_checks<S>() -> Checks<S>
where
    S: AccountStore + FriendStore + GroupStore + MessageStore + ModerationStore + ?Sized,
{
    vec![
        ("blocks", |s| check_blocks(s).boxed()),
        ("group_settings", |s| check_group_settings(s).boxed()),
        ("member_roles", |s| check_member_roles(s).boxed()),
        ("join_position", |s| check_join_position(s).boxed()),
        ("join_requests", |s| check_join_requests(s).boxed()),
        ("dismiss", |s| check_dismiss(s).boxed()),
        ("friend_remarks", |s| check_friend_remarks(s).boxed()),
    ]
}

fn message_checks<S: AccountStore + GroupStore + MessageStore + ?Sized>() -> Checks<S> {
    vec![
        ("conv_seq", |s| check_conv_seq(s).boxed()),
        ("store_rejections", |s| check_store_rejections(s).boxed()),
        ("idempotency", |s| check_idempotency(s).boxed()),
        ("store_batches", |s| check_store_batches(s).boxed()),
        ("concurrent_conv_seq", |s| {
            check_concurrent_conv_seq(s).boxed()
        }),
        ("pending", |s| check_pending(s).boxed()),
        ("pending_membership", |s| {
            check_pending_membership(s).boxed()
        }),
        ("receipts", |s| check_receipts(s).boxed()),
        ("history", |s| check_history(s).boxed()),
        ("amend", |s| check_amend(s).boxed()),
        ("hidden", |s| check_hidden(s).boxed()),
    ]
}

fn conversation_checks<S: ConversationChecked + ?Sized>() -> Checks<S> {
    vec![
        ("conversation_counts", |s| {
            check_conversation_counts(s).boxed()
        }),
        ("conversation_settings", |s| {
            check_conversation_settings(s).boxed()
        }),
        ("conversation_pages", |s| {
            check_conversation_pages(s).boxed()
        }),
    ]
}

/// Runs the [`AccountStore`] checks, each against a fresh storage from `make`, and panics
/// listing the checks that failed and why (after running all of them). The storage needs no
/// other trait.
pub async fn run_account_store<S, F, Fut>(make: F)
where
    S: AccountStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("AccountStore", &make, account_checks()).await;
}

/// Runs the [`FriendStore`] checks like [`run_account_store`]. The storage must also be an
/// [`AccountStore`]: friends are between users, and the checks create them with
/// [`AccountStore::create_user`] (whose own checks are [`run_account_store`]'s).
pub async fn run_friend_store<S, F, Fut>(make: F)
where
    S: AccountStore + FriendStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("FriendStore", &make, friend_checks()).await;
}

/// Runs the [`GroupStore`] checks like [`run_account_store`]. The storage must also be an
/// [`AccountStore`]: members are users, which the checks create.
pub async fn run_group_store<S, F, Fut>(make: F)
where
    S: AccountStore + GroupStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("GroupStore", &make, group_checks()).await;
}

/// Runs the [`MessageStore`] checks like [`run_account_store`]. The storage must also be an
/// [`AccountStore`] and a [`GroupStore`]: messages go to users and groups, which the checks
/// create, and some checks change group membership to see `pending` follow it.
pub async fn run_message_store<S, F, Fut>(make: F)
where
    S: AccountStore + GroupStore + MessageStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("MessageStore", &make, message_checks()).await;
}

/// Runs the [`ConversationStore`] checks (and those of [`MessageStore::record_read`]) like
/// [`run_account_store`]. The storage must also be an [`AccountStore`], a [`GroupStore`] and a
/// [`MessageStore`]: the counts come from the messages stored and the groups joined.
pub async fn run_conversation_store<S, F, Fut>(make: F)
where
    S: AccountStore + GroupStore + MessageStore + ConversationStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("ConversationStore", &make, conversation_checks()).await;
}

/// Runs the [`ModerationStore`] checks like [`run_account_store`]. The storage must also be
/// an [`AccountStore`], a [`FriendStore`], a [`GroupStore`] and a [`MessageStore`]: the checks
/// make users, friends and groups, and store messages to see where a later member joins.
pub async fn run_moderation_store<S, F, Fut>(make: F)
where
    S: AccountStore + FriendStore + GroupStore + MessageStore + ModerationStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("ModerationStore", &make, moderation_checks()).await;
}

/// Runs the [`DeviceStore`] checks like [`run_account_store`]. The storage must also be an
/// [`AccountStore`]: devices belong to users, which the checks create.
pub async fn run_device_store<S, F, Fut>(make: F)
where
    S: AccountStore + DeviceStore + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("DeviceStore", &make, device_checks()).await;
}

/// Runs the [`OutboxStore`] checks like [`run_account_store`]. The storage must also be an
/// [`AccountStore`], a [`FriendStore`], a [`GroupStore`], a [`ModerationStore`] and a
/// [`MessageStore`]: the checks write the events those report.
pub async fn run_outbox_store<S, F, Fut>(make: F)
where
    S: AccountStore + FriendStore + GroupStore + ModerationStore + MessageStore + OutboxStore,
    S: ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    run("OutboxStore", &make, outbox_checks()).await;
}

/// Runs every check of every trait, each against a fresh storage from `make`, and panics
/// listing the checks that failed and why (after running all of them).
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Storage>>,
{
    let mut checks = account_checks::<dyn Storage>();
    checks.extend(message_checks());
    checks.extend(friend_checks());
    checks.extend(group_checks());
    checks.extend(conversation_checks());
    checks.extend(moderation_checks());
    checks.extend(device_checks());
    checks.extend(outbox_checks());
    run("storage", &make, checks).await;
}

/// Runs `checks`, each on a fresh storage, and panics with every failure at the end.
async fn run<S, F, Fut>(what: &str, make: &F, checks: Checks<S>)
where
    S: ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let mut failed = Vec::new();
    for (name, check) in &checks {
        let storage = make().await;
        if let Err(panic) = AssertUnwindSafe(check(storage)).catch_unwind().await {
            failed.push(format!("check_{name}: {}", panic_text(&*panic)));
        }
    }
    if !failed.is_empty() {
        panic!(
            "{what} conformance: {} of {} checks failed:\n- {}",
            failed.len(),
            checks.len(),
            failed.join("\n- ")
        );
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked".to_owned()
    }
}
