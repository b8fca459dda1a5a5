//! The storage conformance kit: checks that a [`Storage`] keeps the contracts its trait
//! documents.
//!
//! A team implementing `Storage` for its own database runs [`run_all`] from a test, giving it a
//! function that opens a fresh, empty storage; every check gets its own. It panics naming each
//! failed check and what was wrong. Each check is also a public `check_*` function, to run one
//! alone while fixing it.
//!
//! ```ignore
//! #[tokio::test]
//! async fn conformance() {
//!     easyim_core::testkit::run_all(|| async {
//!         Arc::new(MyStorage::open_empty().await) as Arc<dyn Storage>
//!     })
//!     .await;
//! }
//! ```
//!
//! The kit spawns nothing: concurrency comes from `futures::future::join_all`, so it runs on
//! any executor. A backend that works on its own threads (a connection pool, a writer thread)
//! then really sees concurrent calls.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use easyim_proto::{ChatType, MsgStatus};
use futures::future::{join_all, BoxFuture};
use futures::FutureExt;

use crate::error::{Conflict, Entity, Result, StorageError};
use crate::storage::{AccountStore, FriendStore, GroupStore, MessageStore, Storage};
use crate::types::{
    Conversation, FriendRequest, Group, GroupId, HistoryItem, HistoryPage, NewMessage,
    PendingMessage, Profile, Receipt, RequestStatus, StoreOutcome, StoredMessage, User, UserId,
};

type Check = fn(Arc<dyn Storage>) -> BoxFuture<'static, ()>;

/// Every check with its name, in the order [`run_all`] runs them.
const CHECKS: &[(&str, Check)] = &[
    ("accounts", |s| check_accounts(s).boxed()),
    ("search_users", |s| check_search_users(s).boxed()),
    ("server_secret", |s| check_server_secret(s).boxed()),
    ("ping", |s| check_ping(s).boxed()),
    ("conv_seq", |s| check_conv_seq(s).boxed()),
    ("store_rejections", |s| check_store_rejections(s).boxed()),
    ("idempotency", |s| check_idempotency(s).boxed()),
    ("concurrent_conv_seq", |s| {
        check_concurrent_conv_seq(s).boxed()
    }),
    ("pending", |s| check_pending(s).boxed()),
    ("pending_membership", |s| {
        check_pending_membership(s).boxed()
    }),
    ("receipts", |s| check_receipts(s).boxed()),
    ("history", |s| check_history(s).boxed()),
    ("friends", |s| check_friends(s).boxed()),
    ("groups", |s| check_groups(s).boxed()),
];

/// Runs every check, each against a fresh storage from `make`, and panics listing the checks
/// that failed and why (after running all of them).
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Storage>>,
{
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        let storage = make().await;
        if let Err(panic) = AssertUnwindSafe(check(storage)).catch_unwind().await {
            failed.push(format!("check_{name}: {}", panic_text(&*panic)));
        }
    }
    if !failed.is_empty() {
        panic!(
            "storage conformance: {} of {} checks failed:\n- {}",
            failed.len(),
            CHECKS.len(),
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

// ---- helpers ------------------------------------------------------------------------------

/// Returns `Pending` once (waking itself at once), so that `join_all` polls the other futures
/// in between: an executor-independent `yield_now`.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

const T0: i64 = 1_700_000_000_000;

fn ok<T>(r: Result<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

fn expect_err<T: Debug>(r: Result<T>, want: StorageError, what: &str) {
    match r {
        Err(e) if e.same_kind(&want) => {}
        other => panic!("{what}: want Err({want:?}), got {other:?}"),
    }
}

fn test_user(id: UserId, account: &str) -> User {
    User {
        id,
        account: account.to_owned(),
        nickname: format!("nick of {account}"),
        avatar: format!("https://example.com/{account}.png"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        secret: format!("secret-{id}"),
    }
}

async fn add_user(s: &dyn Storage, id: UserId, account: &str) -> Profile {
    let u = test_user(id, account);
    let created = ok(s.create_user(u.clone()).await, "create_user");
    assert_eq!(created, u, "create_user must return the user as given");
    u.profile()
}

/// Creates users `ids` named `u<id>`.
async fn add_users(s: &dyn Storage, ids: &[UserId]) {
    for &id in ids {
        add_user(s, id, &format!("u{id}")).await;
    }
}

fn new_msg(chat_type: ChatType, id: &str, from: UserId, to: u64) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        from,
        to,
        chat_type,
        msg_type: 0,
        content: format!("content of {id}"),
        timestamp: T0,
    }
}

fn direct(id: &str, from: UserId, to: UserId) -> NewMessage {
    new_msg(ChatType::Single, id, from, to)
}

fn group_msg(id: &str, from: UserId, group: GroupId) -> NewMessage {
    new_msg(ChatType::Group, id, from, group)
}

/// Stores a message that must be stored; returns it with its recipients (sorted).
async fn store(s: &dyn Storage, msg: NewMessage) -> (StoredMessage, Vec<UserId>) {
    let what = format!("store_message({:?} {} -> {})", msg.id, msg.from, msg.to);
    match ok(s.store_message(msg.clone()).await, &what) {
        StoreOutcome::Stored {
            message,
            mut recipients,
        } => {
            assert_eq!(
                (
                    &message.id,
                    message.from,
                    message.to,
                    message.chat_type,
                    message.msg_type,
                    &message.content,
                    message.timestamp
                ),
                (
                    &msg.id,
                    msg.from,
                    msg.to,
                    msg.chat_type,
                    msg.msg_type,
                    &msg.content,
                    msg.timestamp
                ),
                "{what}: the stored message must be the message as given"
            );
            recipients.sort_unstable();
            (message, recipients)
        }
        other => panic!("{what}: want Stored, got {other:?}"),
    }
}

async fn stored(s: &dyn Storage, msg: NewMessage) -> StoredMessage {
    store(s, msg).await.0
}

async fn outcome(s: &dyn Storage, msg: NewMessage) -> StoreOutcome {
    let what = format!("store_message({:?} {} -> {})", msg.id, msg.from, msg.to);
    ok(s.store_message(msg).await, &what)
}

async fn receipt(
    s: &dyn Storage,
    reader: UserId,
    conv: Conversation,
    id: &str,
    kind: Receipt,
) -> Option<StoredMessage> {
    let what = format!("record_receipt({reader}, {conv}, {id:?}, {kind:?})");
    ok(s.record_receipt(reader, conv, id, kind).await, &what)
}

/// A receipt that must be recorded: returns the named message.
async fn receipt_some(
    s: &dyn Storage,
    reader: UserId,
    conv: Conversation,
    id: &str,
    kind: Receipt,
) {
    match receipt(s, reader, conv, id, kind).await {
        Some(m) => assert_eq!(
            m.id, id,
            "record_receipt({reader}, {conv}, {id:?}) returned another message"
        ),
        None => {
            panic!("record_receipt({reader}, {conv}, {id:?}, {kind:?}): want the message, got None")
        }
    }
}

async fn receipt_none(s: &dyn Storage, reader: UserId, conv: Conversation, id: &str, why: &str) {
    for kind in [Receipt::Arrived, Receipt::Read] {
        let got = receipt(s, reader, conv, id, kind).await;
        assert!(
            got.is_none(),
            "record_receipt({reader}, {conv}, {id:?}, {kind:?}) ({why}): want None, got {got:?}"
        );
    }
}

/// Everything pending for `user`, read in pages of `page`, checking the order rules.
async fn all_pending(s: &dyn Storage, user: UserId, page: usize) -> Vec<PendingMessage> {
    let mut out: Vec<PendingMessage> = Vec::new();
    let mut after = 0;
    loop {
        let what = format!("pending({user}, after {after}, limit {page})");
        let got = ok(s.pending(user, after, page).await, &what);
        assert!(
            got.len() <= page,
            "{what}: returned {} messages, over the limit",
            got.len()
        );
        let Some(last) = got.last() else { break };
        for p in &got {
            assert!(
                p.order > after,
                "{what}: order {} is not above `after` (or not increasing)",
                p.order
            );
            after = p.order;
        }
        after = last.order;
        out.extend(got);
        assert!(out.len() <= 1_000_000, "{what}: pagination does not end");
    }
    let mut last_seq: HashMap<Conversation, u64> = HashMap::new();
    let mut seen = HashSet::new();
    for p in &out {
        let m = &p.message;
        assert_ne!(
            m.from, user,
            "pending({user}): lists the user's own message {:?}",
            m.id
        );
        let conv = m.conversation();
        assert!(
            seen.insert((conv, m.id.clone())),
            "pending({user}): message {:?} of {conv} listed twice",
            m.id
        );
        let prev = last_seq.insert(conv, m.conv_seq).unwrap_or(0);
        assert!(
            m.conv_seq > prev,
            "pending({user}): in {conv}, conv_seq {} comes after {prev}",
            m.conv_seq
        );
    }
    out
}

async fn pending_ids(s: &dyn Storage, user: UserId) -> Vec<String> {
    all_pending(s, user, 1000)
        .await
        .into_iter()
        .map(|p| p.message.id)
        .collect()
}

async fn history_seqs(
    s: &dyn Storage,
    conv: Conversation,
    page: HistoryPage,
    limit: usize,
) -> Vec<u64> {
    let what = format!("history({conv}, {page:?}, limit {limit})");
    ok(s.history(conv, page, limit).await, &what)
        .into_iter()
        .map(|h| h.message.conv_seq)
        .collect()
}

async fn history_status(s: &dyn Storage, conv: Conversation) -> Vec<(u64, MsgStatus)> {
    let what = format!("history({conv}, After(0))");
    let mut v: Vec<(u64, MsgStatus)> =
        ok(s.history(conv, HistoryPage::After(0), 1000).await, &what)
            .into_iter()
            .map(|h| (h.message.conv_seq, h.status))
            .collect();
    v.sort_unstable_by_key(|x| x.0);
    v
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn profile_ids(v: &[Profile]) -> Vec<UserId> {
    v.iter().map(|p| p.id).collect()
}

// ---- accounts -----------------------------------------------------------------------------

/// Accounts: create, `Conflict("account")`, lookup by id and account, `set_user_secret`.
pub async fn check_accounts(s: Arc<dyn Storage>) {
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
}

/// `search_users`: case-sensitive substring, ordered by id, at most `limit`.
pub async fn check_search_users(s: Arc<dyn Storage>) {
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
pub async fn check_server_secret(s: Arc<dyn Storage>) {
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
pub async fn check_ping(s: Arc<dyn Storage>) {
    ok(s.ping().await, "ping");
}

// ---- messages -----------------------------------------------------------------------------

/// `store_message`: conv_seq 1, 2, 3... per conversation, independently; recipients; fields
/// stored as given.
pub async fn check_conv_seq(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");

    let mut with_ts = direct("m1", a, b);
    with_ts.timestamp = T0 + 12_345;
    with_ts.msg_type = 1;
    let steps: Vec<(NewMessage, u64, Vec<UserId>)> = vec![
        (with_ts, 1, vec![b]),
        (direct("m2", b, a), 2, vec![a]),
        (direct("m3", a, c), 1, vec![c]),
        (group_msg("g1", a, g), 1, vec![b, c]),
        (group_msg("g2", b, g), 2, vec![a, c]),
        (direct("m4", a, b), 3, vec![b]),
        (direct("m5", c, a), 2, vec![a]),
        (group_msg("g3", c, g), 3, vec![a, b]),
    ];
    for (msg, seq, recipients) in steps {
        let id = msg.id.clone();
        let conv = msg.conversation();
        let (m, r) = store(s, msg).await;
        assert_eq!(m.conv_seq, seq, "message {id:?} in {conv}: conv_seq");
        assert_eq!(r, recipients, "message {id:?} in {conv}: recipients");
    }
    let ab = Conversation::direct(a, b);
    let hist = ok(s.history(ab, HistoryPage::After(0), 10).await, "history");
    let got: Vec<(u64, String, i64, i32)> = hist
        .iter()
        .map(|h| {
            let m = &h.message;
            (m.conv_seq, m.id.clone(), m.timestamp, m.msg_type)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "m1".to_owned(), T0 + 12_345, 1),
            (2, "m2".to_owned(), T0, 0),
            (3, "m4".to_owned(), T0, 0)
        ],
        "history of {ab} (conv_seq, id, timestamp, msg_type)"
    );
}

/// `store_message` refusals: `NoUser`, `NoGroup`, `NotMember` (checked before idempotency);
/// none of them writes or uses up a conv_seq.
pub async fn check_store_rejections(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[c]).await, "create_group");
    let got = outcome(s, direct("x", a, 999)).await;
    assert_eq!(got, StoreOutcome::NoUser, "message to an unknown user");
    let got = outcome(s, group_msg("x", a, 555)).await;
    assert_eq!(got, StoreOutcome::NoGroup, "message to an unknown group");
    let got = outcome(s, group_msg("x", b, g)).await;
    assert_eq!(
        got,
        StoreOutcome::NotMember,
        "group message from a non-member"
    );
    let m = stored(s, group_msg("c1", c, g)).await;
    assert_eq!(
        m.conv_seq, 1,
        "first group message after refusals: conv_seq"
    );
    ok(s.remove_member(g, c).await, "remove_member");
    let got = outcome(s, group_msg("c1", c, g)).await;
    assert_eq!(
        got,
        StoreOutcome::NotMember,
        "a resend from a member who left must be NotMember (membership is checked before \
         idempotency)"
    );
    let m = stored(s, group_msg("a1", a, g)).await;
    assert_eq!(m.conv_seq, 2, "group message after refusals: conv_seq");
    assert_eq!(
        pending_ids(s, b).await,
        Vec::<String>::new(),
        "refused messages must not be pending"
    );
}

/// Idempotency: `Duplicate` returns the stored message and writes nothing; `IdTaken`; the
/// same id in another conversation is a new message.
pub async fn check_idempotency(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let ab = Conversation::direct(a, b);

    let mut first = direct("x", a, b);
    first.timestamp = T0 + 1;
    let x = stored(s, first).await;
    let mut resend = direct("x", a, b);
    resend.timestamp = T0 + 999;
    resend.content = "changed".to_owned();
    for round in 0..2 {
        let got = outcome(s, resend.clone()).await;
        assert_eq!(
            got,
            StoreOutcome::Duplicate(x.clone()),
            "resend #{round} of \"x\" by its sender: want Duplicate of the stored message (same \
             conv_seq, timestamp, content)"
        );
    }
    assert_eq!(
        history_seqs(s, ab, HistoryPage::Latest, 100).await,
        vec![1],
        "a Duplicate must write nothing"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["x"]),
        "a Duplicate must not be pending twice"
    );
    let y = stored(s, direct("y", a, b)).await;
    assert_eq!(y.conv_seq, 2, "a Duplicate must not use up a conv_seq");
    let got = outcome(s, direct("x", b, a)).await;
    assert_eq!(
        got,
        StoreOutcome::IdTaken,
        "the peer reusing \"x\" in the same conversation"
    );
    let z = stored(s, direct("z", b, a)).await;
    assert_eq!(z.conv_seq, 3, "IdTaken must not use up a conv_seq");

    let xc = stored(s, direct("x", a, c)).await;
    assert_eq!(
        xc.conv_seq, 1,
        "the same id in another 1:1 conversation is a new message"
    );
    let xg = stored(s, group_msg("x", a, g)).await;
    assert_eq!(xg.conv_seq, 1, "the same id in a group is a new message");
    let got = outcome(s, group_msg("x", b, g)).await;
    assert_eq!(
        got,
        StoreOutcome::IdTaken,
        "another member reusing \"x\" in the group"
    );
    let got = outcome(s, group_msg("x", a, g)).await;
    assert_eq!(
        got,
        StoreOutcome::Duplicate(xg),
        "resend of \"x\" to the group"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["x", "y", "x"]),
        "pending for b: \"x\" and \"y\" of {ab}, then \"x\" of the group"
    );
    assert_eq!(pending_ids(s, c).await, ids(&["x", "x"]), "pending for c");
}

/// Gapless, unique conv_seq under concurrent writers, in one group and one 1:1 conversation
/// at once; each writer's messages numbered in its send order.
pub async fn check_concurrent_conv_seq(s: Arc<dyn Storage>) {
    const WRITERS: usize = 8;
    const EACH: usize = 50;
    let members: [UserId; 4] = [1, 2, 3, 4];
    let g = 100;
    add_users(&*s, &members).await;
    ok(s.create_group(g, "busy", 1, &members).await, "create_group");

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        for to_group in [true, false] {
            let s = Arc::clone(&s);
            writers.push(async move {
                let mut seqs = Vec::with_capacity(EACH);
                for i in 0..EACH {
                    let msg = if to_group {
                        group_msg(&format!("g-{w}-{i}"), members[w % 4], g)
                    } else {
                        let (from, to) = if w % 2 == 0 { (1, 2) } else { (2, 1) };
                        direct(&format!("d-{w}-{i}"), from, to)
                    };
                    let (m, recipients) = store(&*s, msg).await;
                    // Let the other writers in between, even on a backend that never waits.
                    yield_now().await;
                    if to_group {
                        let want: Vec<UserId> =
                            members.iter().copied().filter(|&u| u != m.from).collect();
                        assert_eq!(recipients, want, "recipients of group message {:?}", m.id);
                    }
                    seqs.push((m.id, m.conv_seq));
                }
                (w, to_group, seqs)
            });
        }
    }
    let results = join_all(writers).await;

    let total = (WRITERS * EACH) as u64;
    for to_group in [true, false] {
        let conv = if to_group {
            Conversation::Group(g)
        } else {
            Conversation::direct(1, 2)
        };
        let mut by_id: HashMap<String, u64> = HashMap::new();
        for (w, _, seqs) in results.iter().filter(|r| r.1 == to_group) {
            for pair in seqs.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "{conv}: writer {w} sent {:?} before {:?} but got conv_seq {} then {}",
                    pair[0].0,
                    pair[1].0,
                    pair[0].1,
                    pair[1].1
                );
            }
            by_id.extend(seqs.iter().cloned());
        }
        let mut all: Vec<u64> = by_id.values().copied().collect();
        all.sort_unstable();
        let want: Vec<u64> = (1..=total).collect();
        if all != want {
            let dups = all.windows(2).filter(|p| p[0] == p[1]).count();
            panic!(
                "{conv}: {total} concurrent messages must get conv_seq exactly 1..={total}; got \
                 {} values from {:?} to {:?}, {dups} duplicated",
                all.len(),
                all.first(),
                all.last()
            );
        }
        // The history must agree with what the writers were told.
        let mut after = 0;
        let mut seen = 0;
        loop {
            let page = ok(
                s.history(conv, HistoryPage::After(after), 64).await,
                "history",
            );
            let Some(last) = page.last() else { break };
            for h in &page {
                seen += 1;
                assert_eq!(
                    h.message.conv_seq, seen,
                    "{conv}: history After({after}) out of order"
                );
                assert_eq!(
                    by_id.get(&h.message.id),
                    Some(&h.message.conv_seq),
                    "{conv}: history has {:?} at conv_seq {}, the writer was told otherwise",
                    h.message.id,
                    h.message.conv_seq
                );
            }
            after = last.message.conv_seq;
        }
        assert_eq!(
            seen, total,
            "{conv}: history holds {seen} messages, want {total}"
        );
    }

    // user 3 writes to the group as writers 2 and 6; user 2 gets every 1:1 message from 1
    // (even writers) and the group messages not its own (writers 1 and 5 are its own).
    let per = EACH;
    for (user, want) in [(3, 6 * per), (2, 4 * per + 6 * per), (4, 6 * per)] {
        let got = all_pending(&*s, user, 37).await.len();
        assert_eq!(
            got, want,
            "pending({user}) after the concurrent writes: count"
        );
    }
}

/// `pending`: commit order, per-conversation conv_seq order, exact pagination, never the
/// user's own messages.
pub async fn check_pending(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, g) = (1, 2, 3, 100);
    add_users(s, &[a, b, c]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    assert!(
        ok(s.pending(b, 0, 10).await, "pending").is_empty(),
        "pending of a user without messages"
    );
    stored(s, direct("d1", a, b)).await;
    stored(s, direct("d2", c, b)).await;
    stored(s, group_msg("g1", a, g)).await;
    stored(s, direct("d3", b, a)).await;
    stored(s, direct("d4", a, b)).await;
    stored(s, group_msg("g2", c, g)).await;
    stored(s, group_msg("g3", b, g)).await;
    stored(s, direct("d5", c, b)).await;

    let want_b = ids(&["d1", "d2", "g1", "d4", "g2", "d5"]);
    for page in [1, 2, 3, 5, 6, 7, 100] {
        let got: Vec<String> = all_pending(s, b, page)
            .await
            .into_iter()
            .map(|p| p.message.id)
            .collect();
        assert_eq!(
            got, want_b,
            "pending(b) read in pages of {page}, in commit order"
        );
    }
    assert_eq!(
        pending_ids(s, a).await,
        ids(&["d3", "g2", "g3"]),
        "pending(a)"
    );
    assert_eq!(pending_ids(s, c).await, ids(&["g1", "g3"]), "pending(c)");
    assert_eq!(
        pending_ids(s, 999).await,
        Vec::<String>::new(),
        "pending of an unknown user"
    );
    let all = all_pending(s, b, 100).await;
    let last = all.last().map_or(0, |p| p.order);
    assert!(
        ok(s.pending(b, last, 10).await, "pending").is_empty(),
        "pending(b) after its last order must be empty"
    );
    let from_third = ok(s.pending(b, all[2].order, 2).await, "pending");
    let got: Vec<&str> = from_third.iter().map(|p| p.message.id.as_str()).collect();
    assert_eq!(
        got,
        ["d4", "g2"],
        "pending(b, after the 3rd order, limit 2)"
    );
    let again = all_pending(s, b, 100).await;
    assert_eq!(again, all, "pending must not change by being read");
}

/// Group membership and pending: who joins later does not get earlier messages; who leaves
/// loses the group's pending messages; re-adding a member changes nothing.
pub async fn check_pending_membership(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, d, g) = (1, 2, 3, 4, 100);
    add_users(s, &[a, b, c, d]).await;
    ok(s.create_group(g, "g", a, &[b]).await, "create_group");
    stored(s, group_msg("g1", a, g)).await;
    stored(s, group_msg("g2", a, g)).await;
    ok(s.add_members(g, &[c]).await, "add_members");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "a member who joined later must not get earlier messages"
    );
    let (_, r) = store(s, group_msg("g3", a, g)).await;
    assert_eq!(r, vec![b, c], "recipients of g3 (after c joined)");
    assert_eq!(pending_ids(s, c).await, ids(&["g3"]), "pending(c) after g3");
    ok(s.remove_member(g, c).await, "remove_member");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "leaving a group must drop its pending messages"
    );
    let (_, r) = store(s, group_msg("g4", a, g)).await;
    assert_eq!(r, vec![b], "recipients of g4 (after c left)");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "pending(c) after g4"
    );
    ok(s.add_members(g, &[c]).await, "add_members");
    assert_eq!(
        pending_ids(s, c).await,
        Vec::<String>::new(),
        "rejoining must not bring back messages"
    );
    stored(s, group_msg("g5", a, g)).await;
    assert_eq!(
        pending_ids(s, c).await,
        ids(&["g5"]),
        "pending(c) after rejoining and g5"
    );
    let b_pending = ids(&["g1", "g2", "g3", "g4", "g5"]);
    assert_eq!(pending_ids(s, b).await, b_pending, "pending(b)");
    ok(s.add_members(g, &[b, d]).await, "add_members");
    assert_eq!(
        pending_ids(s, b).await,
        b_pending,
        "adding a current member again must leave its pending messages as they are"
    );
    assert_eq!(
        pending_ids(s, d).await,
        Vec::<String>::new(),
        "pending(d) after joining"
    );
}

/// Receipts: cumulative, `Read` implies `Arrived`, cursors never move back, per user and
/// conversation; `None` (nothing recorded) for unknown ids, own messages, non-members, the
/// wrong conversation.
pub async fn check_receipts(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, d, g) = (1, 2, 3, 4, 100);
    add_users(s, &[a, b, c, d]).await;
    ok(s.create_group(g, "g", a, &[b, c]).await, "create_group");
    let ab = Conversation::direct(a, b);
    let gc = Conversation::Group(g);
    use MsgStatus::{Arrived, Read, Sent};

    for id in ["m1", "m2", "m3", "m4"] {
        stored(s, direct(id, a, b)).await;
    }
    receipt_some(s, b, ab, "m3", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "an ARRIVED receipt for m3 must clear m1..m3 and not m4"
    );
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Arrived), (2, Arrived), (3, Arrived), (4, Sent)],
        "history statuses after ARRIVED m3"
    );
    receipt_some(s, b, ab, "m2", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "an older receipt after a newer one must change nothing"
    );
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Arrived), (2, Arrived), (3, Arrived), (4, Sent)],
        "history statuses after an older ARRIVED"
    );
    receipt_some(s, b, ab, "m2", Receipt::Read).await;
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Read), (2, Read), (3, Arrived), (4, Sent)],
        "history statuses after READ m2"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m4"]),
        "pending(b) after READ m2"
    );
    receipt_some(s, b, ab, "m4", Receipt::Read).await;
    assert_eq!(
        pending_ids(s, b).await,
        Vec::<String>::new(),
        "READ implies ARRIVED: READ m4 must clear m4"
    );
    receipt_some(s, b, ab, "m1", Receipt::Arrived).await;
    receipt_some(s, b, ab, "m3", Receipt::Read).await;
    assert_eq!(
        history_status(s, ab).await,
        vec![(1, Read), (2, Read), (3, Read), (4, Read)],
        "older receipts must not move the cursors back"
    );

    // Refused receipts record nothing.
    stored(s, direct("n1", b, a)).await; // conv_seq 5, pending for a
    stored(s, direct("m6", a, b)).await; // conv_seq 6
    receipt_none(s, a, ab, "m6", "its own message").await;
    assert_eq!(
        pending_ids(s, a).await,
        ids(&["n1"]),
        "pending(a) after a receipt for its own"
    );
    receipt_none(s, b, ab, "nope", "unknown id").await;
    receipt_none(s, c, ab, "m6", "not a user of the conversation").await;
    stored(s, direct("k1", b, c)).await;
    receipt_none(
        s,
        b,
        Conversation::direct(b, c),
        "m6",
        "the message is in another conversation",
    )
    .await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6"]),
        "pending(b) after refused receipts"
    );

    for id in ["g1", "g2", "g3", "g4"] {
        stored(s, group_msg(id, a, g)).await;
    }
    receipt_none(s, d, gc, "g1", "not a member").await;
    receipt_none(s, a, gc, "g4", "its own group message").await;
    receipt_none(s, b, gc, "m6", "a 1:1 message id in a group").await;
    receipt_some(s, c, gc, "g3", Receipt::Arrived).await;
    assert_eq!(
        pending_ids(s, c).await,
        ids(&["k1", "g4"]),
        "pending(c): a group receipt clears only its own conversation, up to g3"
    );
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6", "g1", "g2", "g3", "g4"]),
        "pending(b): receipts are per user"
    );
    receipt_some(s, b, gc, "g1", Receipt::Read).await;
    assert_eq!(
        pending_ids(s, b).await,
        ids(&["m6", "g2", "g3", "g4"]),
        "pending(b) after READ g1"
    );
    assert_eq!(
        history_status(s, gc).await,
        vec![(1, Sent), (2, Sent), (3, Sent), (4, Sent)],
        "group history statuses are SENT"
    );
    let m = receipt(s, b, ab, "m6", Receipt::Arrived).await;
    let want = ok(s.history(ab, HistoryPage::Latest, 1).await, "history")
        .pop()
        .map(|h| h.message);
    assert_eq!(m, want, "record_receipt must return the stored message");
}

/// `history`: `Latest` and `Before` newest first, `After` oldest first, `limit`; 1:1 status
/// from the recipient's receipts.
pub async fn check_history(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c) = (1, 2, 3);
    add_users(s, &[a, b, c]).await;
    let ab = Conversation::direct(a, b);
    // Odd conv_seqs from a to b, even ones from b to a.
    for i in 1..=10u64 {
        let (from, to) = if i % 2 == 1 { (a, b) } else { (b, a) };
        stored(s, direct(&format!("h{i}"), from, to)).await;
    }
    stored(s, direct("other", a, c)).await;
    let cases: Vec<(HistoryPage, usize, Vec<u64>)> = vec![
        (HistoryPage::Latest, 3, vec![10, 9, 8]),
        (HistoryPage::Latest, 100, (1..=10).rev().collect()),
        (HistoryPage::Before(5), 2, vec![4, 3]),
        (HistoryPage::Before(5), 10, vec![4, 3, 2, 1]),
        (HistoryPage::Before(1), 10, vec![]),
        (HistoryPage::Before(100), 2, vec![10, 9]),
        (HistoryPage::After(7), 10, vec![8, 9, 10]),
        (HistoryPage::After(2), 3, vec![3, 4, 5]),
        (HistoryPage::After(0), 2, vec![1, 2]),
        (HistoryPage::After(10), 10, vec![]),
    ];
    for (page, limit, want) in cases {
        assert_eq!(
            history_seqs(s, ab, page, limit).await,
            want,
            "history({ab}, {page:?}, limit {limit}): conv_seqs"
        );
    }
    assert_eq!(
        history_seqs(s, Conversation::direct(b, c), HistoryPage::Latest, 10).await,
        Vec::<u64>::new(),
        "history of a conversation without messages"
    );
    let h = ok(s.history(ab, HistoryPage::After(4), 1).await, "history");
    assert_eq!(
        h.first()
            .map(|h| (&h.message.id, h.message.from, h.message.to)),
        Some((&"h5".to_owned(), a, b)),
        "history item 5"
    );

    use MsgStatus::{Arrived, Read, Sent};
    let all_sent: Vec<(u64, MsgStatus)> = (1..=10).map(|i| (i, Sent)).collect();
    assert_eq!(
        history_status(s, ab).await,
        all_sent,
        "statuses with no receipts"
    );
    receipt_some(s, b, ab, "h7", Receipt::Arrived).await;
    receipt_some(s, b, ab, "h5", Receipt::Read).await;
    receipt_some(s, a, ab, "h6", Receipt::Arrived).await;
    let want = vec![
        (1, Read),
        (2, Arrived),
        (3, Read),
        (4, Arrived),
        (5, Read),
        (6, Arrived),
        (7, Arrived),
        (8, Sent),
        (9, Sent),
        (10, Sent),
    ];
    assert_eq!(
        history_status(s, ab).await,
        want,
        "statuses: each message's from its recipient's receipts"
    );
}

// ---- friends ------------------------------------------------------------------------------

/// Friend requests, answers and friendships, with their `NotFound` and `Conflict` cases.
pub async fn check_friends(s: Arc<dyn Storage>) {
    let s = &*s;
    let pa = add_user(s, 1, "a").await;
    let pb = add_user(s, 2, "b").await;
    let pc = add_user(s, 3, "c").await;
    let (a, b, c) = (pa.id, pb.id, pc.id);
    let request = |id: u64, from: UserId, to: UserId, msg: &str, status| FriendRequest {
        id,
        from,
        to,
        msg: msg.to_owned(),
        status,
    };
    let requests_of =
        |to: UserId| async move { ok(s.friend_requests(to).await, "friend_requests") };
    let friends_of = |u: UserId| async move { profile_ids(&ok(s.friends(u).await, "friends")) };
    use RequestStatus::{Accepted, Open, Refused};

    let r1 = request(1001, a, b, "hi", Open);
    let got = ok(
        s.create_friend_request(1001, a, b, "hi").await,
        "create_friend_request",
    );
    assert_eq!(got, r1, "create_friend_request");
    let got = ok(
        s.create_friend_request(1002, a, b, "again").await,
        "create_friend_request",
    );
    assert_eq!(
        got, r1,
        "a repeated request must return the open one unchanged"
    );
    assert_eq!(requests_of(b).await, vec![r1.clone()], "friend_requests(b)");
    assert_eq!(
        requests_of(a).await,
        vec![],
        "friend_requests(a): none addressed to a"
    );
    expect_err(
        s.create_friend_request(1003, a, 999, "").await,
        StorageError::NotFound(Entity::User),
        "friend request to an unknown user",
    );
    let r4 = request(1004, c, b, "", Open);
    let got = ok(
        s.create_friend_request(1004, c, b, "").await,
        "create_friend_request",
    );
    assert_eq!(got, r4, "create_friend_request");
    assert_eq!(
        requests_of(b).await,
        vec![r4.clone(), r1.clone()],
        "friend_requests(b), newest first"
    );

    expect_err(
        s.answer_friend_request(1001, c, true).await,
        StorageError::NotFound(Entity::Request),
        "answering a request addressed to someone else",
    );
    expect_err(
        s.answer_friend_request(9999, b, true).await,
        StorageError::NotFound(Entity::Request),
        "answering an unknown request",
    );
    assert_eq!(
        friends_of(a).await,
        Vec::<UserId>::new(),
        "friends(a) before any answer"
    );
    let got = ok(
        s.answer_friend_request(1001, b, true).await,
        "answer_friend_request",
    );
    assert_eq!(
        got,
        request(1001, a, b, "hi", Accepted),
        "accepting a request"
    );
    assert_eq!(friends_of(a).await, vec![b], "friends(a) after b accepted");
    assert_eq!(friends_of(b).await, vec![a], "friends(b) after accepting a");
    assert_eq!(
        ok(s.friends(a).await, "friends"),
        vec![pb.clone()],
        "friends(a): profiles"
    );
    for accept in [true, false] {
        expect_err(
            s.answer_friend_request(1001, b, accept).await,
            StorageError::Conflict(Conflict::AlreadyAnswered),
            "answering a request twice",
        );
    }
    expect_err(
        s.create_friend_request(1005, a, b, "").await,
        StorageError::Conflict(Conflict::AlreadyFriends),
        "request between friends",
    );
    expect_err(
        s.create_friend_request(1006, b, a, "").await,
        StorageError::Conflict(Conflict::AlreadyFriends),
        "request between friends, the other way",
    );

    let got = ok(
        s.answer_friend_request(1004, b, false).await,
        "answer_friend_request",
    );
    assert_eq!(got, request(1004, c, b, "", Refused), "refusing a request");
    assert_eq!(friends_of(b).await, vec![a], "friends(b) after refusing c");
    assert_eq!(
        friends_of(c).await,
        Vec::<UserId>::new(),
        "friends(c) after being refused"
    );
    assert_eq!(
        requests_of(b).await,
        vec![
            request(1004, c, b, "", Refused),
            request(1001, a, b, "hi", Accepted)
        ],
        "friend_requests(b) after the answers"
    );
    let got = ok(
        s.create_friend_request(1007, c, b, "please").await,
        "create_friend_request",
    );
    assert_eq!(
        got,
        request(1007, c, b, "please", Open),
        "a new request after a refused one is a new open request"
    );
    ok(
        s.answer_friend_request(1007, b, true).await,
        "answer_friend_request",
    );
    assert_eq!(friends_of(b).await, vec![a, c], "friends(b), by id");

    ok(s.remove_friend(a, b).await, "remove_friend");
    assert_eq!(
        friends_of(a).await,
        Vec::<UserId>::new(),
        "friends(a) after remove_friend(a, b)"
    );
    assert_eq!(
        friends_of(b).await,
        vec![c],
        "friends(b) after remove_friend(a, b)"
    );
    expect_err(
        s.remove_friend(a, b).await,
        StorageError::NotFound(Entity::Friend),
        "removing a removed friend",
    );
    expect_err(
        s.remove_friend(b, a).await,
        StorageError::NotFound(Entity::Friend),
        "removing a removed friend, the other way",
    );
    ok(
        s.remove_friend(c, b).await,
        "remove_friend by the one who asked",
    );
    assert_eq!(
        friends_of(b).await,
        Vec::<UserId>::new(),
        "friends(b) at the end"
    );
    assert_eq!(
        friends_of(c).await,
        Vec::<UserId>::new(),
        "friends(c) at the end"
    );
}

// ---- groups -------------------------------------------------------------------------------

/// Groups: creation (owner included, duplicates ignored, all or nothing), members, lookups.
pub async fn check_groups(s: Arc<dyn Storage>) {
    let s = &*s;
    let (a, b, c, d) = (1, 2, 3, 4);
    add_users(s, &[a, b, c, d]).await;
    let group_ids = |u: UserId| async move {
        ok(s.groups_of(u).await, "groups_of")
            .into_iter()
            .map(|g| g.id)
            .collect::<Vec<_>>()
    };
    let members =
        |g: GroupId| async move { profile_ids(&ok(s.group_members(g).await, "group_members")) };
    let count = |g: GroupId| async move { ok(s.group(g).await, "group").map(|g| g.member_count) };

    let g = ok(
        s.create_group(100, "team", a, &[b, b, a, c]).await,
        "create_group",
    );
    assert_eq!(
        (g.id, g.name.as_str(), g.owner, g.member_count),
        (100, "team", a, 3),
        "create_group(100, owner a, members [b, b, a, c]): (id, name, owner, member_count)"
    );
    assert_eq!(ok(s.group(100).await, "group"), Some(g), "group(100)");
    assert_eq!(ok(s.group(999).await, "group"), None, "group(999)");
    assert_eq!(members(100).await, vec![a, b, c], "group_members(100)");
    assert_eq!(
        ok(s.group_members(100).await, "group_members")[0],
        test_user(a, "u1").profile(),
        "group_members: profiles"
    );
    for (u, want) in [(a, true), (b, true), (c, true), (d, false)] {
        assert_eq!(
            ok(s.is_member(100, u).await, "is_member"),
            want,
            "is_member(100, {u})"
        );
    }
    assert!(
        !ok(s.is_member(999, a).await, "is_member"),
        "is_member of an unknown group"
    );

    expect_err(
        s.create_group(101, "bad", a, &[b, 999]).await,
        StorageError::NotFound(Entity::User),
        "create_group with an unknown member",
    );
    assert_eq!(
        ok(s.group(101).await, "group"),
        None,
        "a refused group must not exist"
    );
    assert_eq!(
        members(101).await,
        Vec::<UserId>::new(),
        "group_members of a refused group"
    );
    assert_eq!(
        group_ids(a).await,
        vec![100],
        "groups_of(a) after a refused create_group"
    );

    let h = ok(s.create_group(102, "solo", b, &[]).await, "create_group");
    assert_eq!(h.member_count, 1, "a group with only its owner");
    assert_eq!(group_ids(b).await, vec![100, 102], "groups_of(b), by id");
    assert_eq!(group_ids(d).await, Vec::<GroupId>::new(), "groups_of(d)");

    expect_err(
        s.add_members(100, &[d, 999]).await,
        StorageError::NotFound(Entity::User),
        "add_members with an unknown user",
    );
    assert!(
        !ok(s.is_member(100, d).await, "is_member"),
        "a refused add_members must add nobody"
    );
    assert_eq!(
        count(100).await,
        Some(3),
        "member_count after a refused add_members"
    );
    expect_err(
        s.add_members(999, &[d]).await,
        StorageError::NotFound(Entity::Group),
        "add_members to an unknown group",
    );
    ok(s.add_members(100, &[d, b, d]).await, "add_members");
    assert_eq!(
        count(100).await,
        Some(4),
        "member_count after adding d (and b again)"
    );
    assert_eq!(
        members(100).await,
        vec![a, b, c, d],
        "group_members after add_members"
    );

    ok(s.remove_member(100, c).await, "remove_member");
    assert_eq!(
        count(100).await,
        Some(3),
        "member_count after remove_member"
    );
    assert!(
        !ok(s.is_member(100, c).await, "is_member"),
        "is_member after leaving"
    );
    assert_eq!(
        group_ids(c).await,
        Vec::<GroupId>::new(),
        "groups_of(c) after leaving"
    );
    expect_err(
        s.remove_member(100, c).await,
        StorageError::NotFound(Entity::Member),
        "removing a non-member",
    );
    expect_err(
        s.remove_member(999, a).await,
        StorageError::NotFound(Entity::Group),
        "removing from an unknown group",
    );
    assert_eq!(
        members(100).await,
        vec![a, b, d],
        "group_members at the end"
    );
    let groups = ok(s.groups_of(a).await, "groups_of");
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.id, g.member_count))
            .collect::<Vec<_>>(),
        vec![(100, 3)],
        "groups_of(a) with member counts"
    );
}

// ---- a storage that fails on demand -------------------------------------------------------

/// Wraps any [`Storage`] and makes it fail on demand with [`StorageError::Unavailable`], as a
/// lost disk or database would: every call ([`FailingStorage::fail_all`]) or only the message
/// writes ([`FailingStorage::fail_messages`]). For testing what sits on top of a storage: the
/// engine must answer `E_INTERNAL`, ack nothing and recover by itself; the API must answer 500
/// and `/healthz` 503.
#[derive(Debug, Default)]
pub struct FailingStorage<S> {
    inner: S,
    all: std::sync::atomic::AtomicBool,
    messages: std::sync::atomic::AtomicBool,
    /// The text of the injected error (so a test can check it never reaches a client).
    reason: &'static str,
}

impl<S> FailingStorage<S> {
    /// Wraps `inner`; it works until told to fail.
    pub fn new(inner: S) -> Self {
        FailingStorage {
            inner,
            all: Default::default(),
            messages: Default::default(),
            reason: "injected storage failure",
        }
    }

    /// The same, with `reason` as the error text.
    pub fn with_reason(inner: S, reason: &'static str) -> Self {
        FailingStorage {
            reason,
            ..FailingStorage::new(inner)
        }
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Makes every call fail (true), or work again (false).
    pub fn fail_all(&self, on: bool) {
        self.all.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes `store_message` and `store_messages` fail (true), or work again (false).
    pub fn fail_messages(&self, on: bool) {
        self.messages.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> crate::Result<()> {
        if self.all.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::unavailable_msg(self.reason));
        }
        Ok(())
    }

    fn check_messages(&self) -> crate::Result<()> {
        self.check()?;
        if self.messages.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::unavailable_msg(self.reason));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<S: AccountStore> AccountStore for FailingStorage<S> {
    async fn create_user(&self, user: User) -> crate::Result<User> {
        self.check()?;
        self.inner.create_user(user).await
    }

    async fn user(&self, id: UserId) -> crate::Result<Option<User>> {
        self.check()?;
        self.inner.user(id).await
    }

    async fn user_by_account(&self, account: &str) -> crate::Result<Option<User>> {
        self.check()?;
        self.inner.user_by_account(account).await
    }

    async fn set_user_secret(&self, id: UserId, secret: &str) -> crate::Result<()> {
        self.check()?;
        self.inner.set_user_secret(id, secret).await
    }

    async fn search_users(&self, query: &str, limit: usize) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.search_users(query, limit).await
    }

    async fn server_secret(&self, candidate: &str) -> crate::Result<String> {
        self.check()?;
        self.inner.server_secret(candidate).await
    }

    async fn ping(&self) -> crate::Result<()> {
        self.check()?;
        self.inner.ping().await
    }
}

#[async_trait::async_trait]
impl<S: FriendStore> FriendStore for FailingStorage<S> {
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> crate::Result<FriendRequest> {
        self.check()?;
        self.inner.create_friend_request(id, from, to, msg).await
    }

    async fn friend_requests(&self, to: UserId) -> crate::Result<Vec<FriendRequest>> {
        self.check()?;
        self.inner.friend_requests(to).await
    }

    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> crate::Result<FriendRequest> {
        self.check()?;
        self.inner.answer_friend_request(id, to, accept).await
    }

    async fn friends(&self, user: UserId) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.friends(user).await
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> crate::Result<()> {
        self.check()?;
        self.inner.remove_friend(user, friend).await
    }
}

#[async_trait::async_trait]
impl<S: GroupStore> GroupStore for FailingStorage<S> {
    async fn create_group(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
    ) -> crate::Result<Group> {
        self.check()?;
        self.inner.create_group(id, name, owner, members).await
    }

    async fn add_members(&self, group: GroupId, users: &[UserId]) -> crate::Result<()> {
        self.check()?;
        self.inner.add_members(group, users).await
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> crate::Result<()> {
        self.check()?;
        self.inner.remove_member(group, user).await
    }

    async fn group(&self, id: GroupId) -> crate::Result<Option<Group>> {
        self.check()?;
        self.inner.group(id).await
    }

    async fn groups_of(&self, user: UserId) -> crate::Result<Vec<Group>> {
        self.check()?;
        self.inner.groups_of(user).await
    }

    async fn group_members(&self, group: GroupId) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.group_members(group).await
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> crate::Result<bool> {
        self.check()?;
        self.inner.is_member(group, user).await
    }
}

#[async_trait::async_trait]
impl<S: MessageStore> MessageStore for FailingStorage<S> {
    async fn store_message(&self, msg: NewMessage) -> crate::Result<StoreOutcome> {
        self.check_messages()?;
        self.inner.store_message(msg).await
    }

    async fn store_messages(&self, msgs: Vec<NewMessage>) -> crate::Result<Vec<StoreOutcome>> {
        self.check_messages()?;
        self.inner.store_messages(msgs).await
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        id: &str,
        receipt: Receipt,
    ) -> crate::Result<Option<StoredMessage>> {
        self.check()?;
        self.inner.record_receipt(reader, conv, id, receipt).await
    }

    async fn pending(
        &self,
        user: UserId,
        after: u64,
        limit: usize,
    ) -> crate::Result<Vec<PendingMessage>> {
        self.check()?;
        self.inner.pending(user, after, limit).await
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> crate::Result<Vec<HistoryItem>> {
        self.check()?;
        self.inner.history(conv, page, limit).await
    }
}
