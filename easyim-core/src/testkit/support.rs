//! What the checks share: test records, result assertions, and reads that check the order rules
//! of `pending` and `history` on the way.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::task::Poll;

use easyim_proto::{ChatType, MsgStatus};

use crate::error::{Result, StorageError};
use crate::storage::{AccountStore, MessageStore};
use crate::types::{
    Conversation, GroupId, HistoryPage, NewMessage, Page, PendingMessage, Profile, Receipt,
    StoreOutcome, StoredMessage, User, UserId,
};

/// Returns `Pending` once (waking itself at once), so that `join_all` polls the other futures
/// in between: an executor-independent `yield_now`.
pub(super) fn yield_now() -> impl Future<Output = ()> {
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

pub(super) const T0: i64 = 1_700_000_000_000;

pub(super) fn ok<T>(r: Result<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

pub(super) fn expect_err<T: Debug>(r: Result<T>, want: StorageError, what: &str) {
    match r {
        Err(e) if e.same_kind(&want) => {}
        other => panic!("{what}: want Err({want:?}), got {other:?}"),
    }
}

pub(super) fn test_user(id: UserId, account: &str) -> User {
    User {
        id,
        account: account.to_owned(),
        nickname: format!("nick of {account}"),
        avatar: format!("https://example.com/{account}.png"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        secret: format!("secret-{id}"),
    }
}

pub(super) async fn add_user<S: AccountStore + ?Sized>(
    s: &S,
    id: UserId,
    account: &str,
) -> Profile {
    let u = test_user(id, account);
    let created = ok(s.create_user(u.clone()).await, "create_user");
    assert_eq!(created, u, "create_user must return the user as given");
    u.profile()
}

/// Creates users `ids` named `u<id>`.
pub(super) async fn add_users<S: AccountStore + ?Sized>(s: &S, ids: &[UserId]) {
    for &id in ids {
        add_user(s, id, &format!("u{id}")).await;
    }
}

pub(super) fn new_msg(chat_type: ChatType, id: &str, from: UserId, to: u64) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        from,
        to,
        chat_type,
        msg_type: 0,
        content: format!("content of {id}"),
        timestamp: T0,
        ref_id: String::new(),
    }
}

pub(super) fn direct(id: &str, from: UserId, to: UserId) -> NewMessage {
    new_msg(ChatType::Single, id, from, to)
}

pub(super) fn group_msg(id: &str, from: UserId, group: GroupId) -> NewMessage {
    new_msg(ChatType::Group, id, from, group)
}

/// Stores a message that must be stored; returns it with its recipients (sorted).
pub(super) async fn store<S: MessageStore + ?Sized>(
    s: &S,
    msg: NewMessage,
) -> (StoredMessage, Vec<UserId>) {
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

pub(super) async fn stored<S: MessageStore + ?Sized>(s: &S, msg: NewMessage) -> StoredMessage {
    store(s, msg).await.0
}

pub(super) async fn outcome<S: MessageStore + ?Sized>(s: &S, msg: NewMessage) -> StoreOutcome {
    let what = format!("store_message({:?} {} -> {})", msg.id, msg.from, msg.to);
    ok(s.store_message(msg).await, &what)
}

pub(super) async fn receipt<S: MessageStore + ?Sized>(
    s: &S,
    reader: UserId,
    conv: Conversation,
    id: &str,
    kind: Receipt,
) -> Option<StoredMessage> {
    let what = format!("record_receipt({reader}, {conv}, {id:?}, {kind:?})");
    ok(s.record_receipt(reader, conv, id, kind).await, &what)
}

/// A receipt that must be recorded: returns the named message.
pub(super) async fn receipt_some<S: MessageStore + ?Sized>(
    s: &S,
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

pub(super) async fn receipt_none<S: MessageStore + ?Sized>(
    s: &S,
    reader: UserId,
    conv: Conversation,
    id: &str,
    why: &str,
) {
    for kind in [Receipt::Arrived, Receipt::Read] {
        let got = receipt(s, reader, conv, id, kind).await;
        assert!(
            got.is_none(),
            "record_receipt({reader}, {conv}, {id:?}, {kind:?}) ({why}): want None, got {got:?}"
        );
    }
}

/// Everything pending for `user`, read in pages of `page`, checking the order rules.
pub(super) async fn all_pending<S: MessageStore + ?Sized>(
    s: &S,
    user: UserId,
    page: usize,
) -> Vec<PendingMessage> {
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

pub(super) async fn pending_ids<S: MessageStore + ?Sized>(s: &S, user: UserId) -> Vec<String> {
    all_pending(s, user, 1000)
        .await
        .into_iter()
        .map(|p| p.message.id)
        .collect()
}

pub(super) async fn history_seqs<S: MessageStore + ?Sized>(
    s: &S,
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

pub(super) async fn history_status<S: MessageStore + ?Sized>(
    s: &S,
    conv: Conversation,
) -> Vec<(u64, MsgStatus)> {
    let what = format!("history({conv}, After(0))");
    let mut v: Vec<(u64, MsgStatus)> =
        ok(s.history(conv, HistoryPage::After(0), 1000).await, &what)
            .into_iter()
            .map(|h| (h.message.conv_seq, h.status))
            .collect();
    v.sort_unstable_by_key(|x| x.0);
    v
}

pub(super) fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn profile_ids(v: &[Profile]) -> Vec<UserId> {
    v.iter().map(|p| p.id).collect()
}

/// Reads a whole list page by page, `size` items a page, each page starting after the key of
/// the last item of the previous one; checks that no page is over the limit (the page after a
/// full last page must then be empty) and returns the pages concatenated.
pub(super) async fn walk<T, K, F, Fut>(what: &str, size: usize, fetch: F, key: K) -> Vec<T>
where
    K: Fn(&T) -> u64,
    F: Fn(Page) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = Page::new(after, size);
        let got = ok(fetch(page).await, &format!("{what} {page:?}"));
        assert!(
            got.len() <= size,
            "{what} {page:?}: {} items, over the limit",
            got.len()
        );
        let full = !got.is_empty() && got.len() == size;
        after = got.last().map(&key).or(after);
        out.extend(got);
        if !full {
            return out;
        }
        assert!(out.len() <= 100_000, "{what}: pagination does not end");
    }
}
