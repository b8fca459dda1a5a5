//! [`FailingStorage`]: a storage that fails on demand, for testing what sits on top of one.
//! Its `ModerationStore` part is in `failing/moderation.rs`.

mod moderation;

use crate::error::StorageError;
use crate::events::NewEvent;
use crate::read::{ReadAt, ReadOutcome};
use crate::storage::{
    AccountStore, ConversationStore, DeviceStore, FriendStore, GroupStore, MessageStore,
};
use crate::summary::{ConversationCursor, ConversationRows, ConversationSettings, SettingsChange};
use crate::types::{
    Conversation, Device, FriendRequest, Group, GroupCaps, GroupId, HistoryItem, HistoryPage,
    NewMessage, Page, PendingMessage, Profile, Receipt, StoreOutcome, StoredMessage, User, UserId,
};

/// Wraps any [`Storage`](crate::Storage) and makes it fail on demand with [`StorageError::Unavailable`], as a
/// lost disk or database would: every call ([`FailingStorage::fail_all`]) or only the message
/// writes ([`FailingStorage::fail_messages`]). For testing what sits on top of a storage: the
/// engine must answer `E_INTERNAL`, ack nothing and recover by itself; the API must answer 500
/// and `/healthz` 503.
#[derive(Debug, Default)]
pub struct FailingStorage<S> {
    inner: S,
    all: std::sync::atomic::AtomicBool,
    messages: std::sync::atomic::AtomicBool,
    partial: std::sync::atomic::AtomicBool,
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
            partial: Default::default(),
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

    /// Makes a `store_messages` of more than one message store the first one only and then
    /// fail (true), as a batch that broke after its first commit would; or work again (false).
    /// The stored one takes its `conv_seq` but is never acked nor delivered live: a gap.
    pub fn fail_batches_after_first(&self, on: bool) {
        self.partial.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub(super) fn check(&self) -> crate::Result<()> {
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
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> crate::Result<()> {
        self.check()?;
        self.inner.set_password_hash(id, password_hash).await
    }
    async fn advance_refresh(
        &self,
        user: UserId,
        family: u64,
        generation: u64,
    ) -> crate::Result<bool> {
        self.check()?;
        self.inner.advance_refresh(user, family, generation).await
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

    async fn friend_requests(&self, to: UserId, page: Page) -> crate::Result<Vec<FriendRequest>> {
        self.check()?;
        self.inner.friend_requests(to, page).await
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

    async fn friends(&self, user: UserId, page: Page) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.friends(user, page).await
    }

    async fn friend_count(&self, user: UserId) -> crate::Result<u64> {
        self.check()?;
        self.inner.friend_count(user).await
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> crate::Result<()> {
        self.check()?;
        self.inner.remove_friend(user, friend).await
    }
}

#[async_trait::async_trait]
impl<S: GroupStore> GroupStore for FailingStorage<S> {
    async fn create_group_within(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> crate::Result<Group> {
        self.check()?;
        self.inner
            .create_group_within(id, name, owner, members, caps, events)
            .await
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner
            .add_members_within(group, users, caps, events)
            .await
    }

    async fn remove_member(
        &self,
        group: GroupId,
        user: UserId,
        events: &[NewEvent],
    ) -> crate::Result<()> {
        self.check()?;
        self.inner.remove_member(group, user, events).await
    }

    async fn group(&self, id: GroupId) -> crate::Result<Option<Group>> {
        self.check()?;
        self.inner.group(id).await
    }

    async fn groups_of(&self, user: UserId, page: Page) -> crate::Result<Vec<Group>> {
        self.check()?;
        self.inner.groups_of(user, page).await
    }

    async fn group_members(&self, group: GroupId, page: Page) -> crate::Result<Vec<Profile>> {
        self.check()?;
        self.inner.group_members(group, page).await
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

    async fn store_messages(&self, mut msgs: Vec<NewMessage>) -> crate::Result<Vec<StoreOutcome>> {
        self.check_messages()?;
        if msgs.len() > 1 && self.partial.load(std::sync::atomic::Ordering::SeqCst) {
            msgs.truncate(1);
            self.inner.store_messages(msgs).await?;
            return Err(StorageError::unavailable_msg(self.reason));
        }
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

    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> crate::Result<ReadOutcome> {
        self.check()?;
        self.inner.record_read(reader, conv, at).await
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

    async fn message(
        &self,
        conv: Conversation,
        id: &str,
    ) -> crate::Result<Option<crate::StoredMessage>> {
        self.check()?;
        self.inner.message(conv, id).await
    }

    async fn hide_messages(
        &self,
        user: UserId,
        conv: Conversation,
        ids: &[String],
    ) -> crate::Result<u64> {
        self.check()?;
        self.inner.hide_messages(user, conv, ids).await
    }

    async fn hidden_seqs(
        &self,
        user: UserId,
        conv: Conversation,
        seqs: &[u64],
    ) -> crate::Result<Vec<u64>> {
        self.check()?;
        self.inner.hidden_seqs(user, conv, seqs).await
    }

    async fn hidden_among(
        &self,
        user: UserId,
        lasts: &[(Conversation, u64)],
    ) -> crate::Result<Vec<bool>> {
        self.check()?;
        self.inner.hidden_among(user, lasts).await
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

#[async_trait::async_trait]
impl<S: ConversationStore> ConversationStore for FailingStorage<S> {
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConversationCursor>,
        limit: usize,
    ) -> crate::Result<ConversationRows> {
        self.check()?;
        self.inner.conversations(user, after, limit).await
    }

    async fn set_conversation_settings(
        &self,
        user: UserId,
        conv: Conversation,
        change: SettingsChange,
    ) -> crate::Result<Option<ConversationSettings>> {
        self.check()?;
        self.inner
            .set_conversation_settings(user, conv, change)
            .await
    }

    async fn hide_conversation(&self, user: UserId, conv: Conversation) -> crate::Result<bool> {
        self.check()?;
        self.inner.hide_conversation(user, conv).await
    }
}

#[async_trait::async_trait]
impl<S: DeviceStore> DeviceStore for FailingStorage<S> {
    async fn add_device(&self, user: UserId, device: &Device, max: usize) -> crate::Result<bool> {
        self.check()?;
        self.inner.add_device(user, device, max).await
    }

    async fn remove_device(&self, user: UserId, token: &str) -> crate::Result<bool> {
        self.check()?;
        self.inner.remove_device(user, token).await
    }

    async fn devices(&self, user: UserId) -> crate::Result<Vec<Device>> {
        self.check()?;
        self.inner.devices(user).await
    }
}

#[async_trait::async_trait]
impl<S: crate::storage::OutboxStore> crate::storage::OutboxStore for FailingStorage<S> {
    fn event_filter(&self) -> &crate::events::EventFilter {
        self.inner.event_filter()
    }

    async fn claim_events(
        &self,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> crate::Result<Vec<crate::events::OutboxEvent>> {
        self.check()?;
        self.inner.claim_events(limit, now_ms, lease_ms).await
    }

    async fn ack_events(&self, ids: &[u64]) -> crate::Result<()> {
        self.check()?;
        self.inner.ack_events(ids).await
    }

    async fn retry_events(&self, ids: &[u64], due_ms: i64) -> crate::Result<()> {
        self.check()?;
        self.inner.retry_events(ids, due_ms).await
    }

    async fn outbox_stats(&self) -> crate::Result<crate::events::OutboxStats> {
        self.check()?;
        self.inner.outbox_stats().await
    }

    async fn append_events(&self, events: Vec<crate::events::NewEvent>) -> crate::Result<()> {
        self.check()?;
        self.inner.append_events(events).await
    }
}
