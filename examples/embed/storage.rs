//! [`TableStorage`]: a `Storage` written by hand, laid out like a relational schema. The
//! `AccountStore` part is in `accounts`, the `FriendStore` part in `friends`; the
//! conversation list and read positions are in `conversations`; the `ModerationStore` part is
//! in `moderation`, the `DeviceStore` part in `devices`, the `OutboxStore` part in `outbox`.

mod accounts;
mod conversations;
mod devices;
mod friends;
mod moderation;
mod outbox;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use easyim_core::recall;
use easyim_core::{
    Conflict, Conversation, Entity, FriendRequest, Group, GroupCaps, GroupId, GroupStore,
    HistoryItem, HistoryPage, MessageStore, NewEvent, NewMessage, Page, PendingMessage, Profile,
    ReadAt, ReadOutcome, Receipt, Result, StorageError, StoreOutcome, StoredMessage, User, UserId,
    SYSTEM_USER,
};
use easyim_proto::{ChatType, MsgStatus};

/// A `Storage` laid out like a relational schema, kept in memory.
///
/// One mutex stands for the database's transactions: each method takes it once, checks
/// everything before it writes anything, and so commits all of its step or nothing.
#[derive(Debug, Default)]
pub(crate) struct TableStorage {
    db: Mutex<Tables>,
    /// Which webhook events are written (none unless the server turns webhooks on).
    events: easyim_core::EventFilter,
}

/// The "tables". Keys are ordered like the primary keys of the matching SQL tables.
#[derive(Debug, Default)]
struct Tables {
    /// `users (id PRIMARY KEY, account UNIQUE, ...)`.
    users: BTreeMap<UserId, User>,
    /// `settings (server_secret)`.
    server_secret: Option<String>,
    /// `refresh_families (user, family PRIMARY KEY, generation)`.
    refresh: HashMap<(UserId, u64), u64>,
    /// `friend_requests`, in insertion order (the row id).
    requests: Vec<FriendRequest>,
    /// `friends (user, friend)`, one row per direction.
    friends: BTreeSet<(UserId, UserId)>,
    /// The `remark` column of `friends`: (user, friend) to a non-empty remark.
    remarks: HashMap<(UserId, UserId), String>,
    /// `blocks (user, blocked)`.
    blocks: BTreeSet<(UserId, UserId)>,
    /// `join_requests (id PRIMARY KEY, group, user, status)`.
    join_requests: BTreeMap<u64, easyim_core::JoinRequest>,
    /// `groups (id, name, owner)`.
    groups: BTreeMap<GroupId, (String, UserId)>,
    /// `members (group, user)`.
    members: BTreeSet<(GroupId, UserId)>,
    /// The administration columns of `groups` (absent: the defaults).
    settings: HashMap<GroupId, easyim_core::GroupSettings>,
    /// The administration columns of `members`: (admin, muted until, join position); absent
    /// for an unmuted member the group was created with.
    member_rows: HashMap<(GroupId, UserId), (bool, i64, u64)>,
    /// `messages`, in commit order: the message at index `i` has `order` `i + 1`.
    messages: Vec<StoredMessage>,
    /// The index `messages (conversation, conv_seq)`: each conversation's orders, by conv_seq.
    by_conv: HashMap<Conversation, Vec<u64>>,
    /// The unique index `messages (conversation, id)`.
    by_id: HashMap<(Conversation, String), u64>,
    /// `inbox (user, order)`: one row per message still pending for a recipient.
    inbox: BTreeSet<(UserId, u64)>,
    /// `receipts (user, conversation) -> (arrived up to, read up to)`, conv_seqs that only grow.
    receipts: HashMap<(UserId, Conversation), (u64, u64)>,
    /// `conversations (user, conversation)`: each user's own place and settings in each of
    /// its conversations.
    conversations: HashMap<(UserId, Conversation), conversations::ConvRow>,
    /// `devices (token PRIMARY KEY, user, platform, updated_at)`.
    devices: BTreeMap<String, (UserId, easyim_core::Device)>,
    /// `hidden (user, conversation, conv_seq)`: the messages each user deleted for itself.
    hidden: BTreeSet<(UserId, Conversation, u64)>,
    /// `outbox (id PRIMARY KEY, ...)`: webhook events waiting for delivery.
    outbox: outbox::OutboxTable,
}

impl TableStorage {
    fn db(&self) -> MutexGuard<'_, Tables> {
        // Every method checks before it writes, so a panic cannot leave half a step behind.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tables {
    fn message(&self, order: u64) -> &StoredMessage {
        &self.messages[order as usize - 1]
    }

    fn profiles(&self, ids: impl Iterator<Item = UserId>) -> Vec<Profile> {
        ids.filter_map(|id| self.users.get(&id).map(User::profile))
            .collect()
    }

    fn member_ids(&self, group: GroupId) -> impl Iterator<Item = UserId> + '_ {
        self.members
            .range((group, UserId::MIN)..=(group, UserId::MAX))
            .map(|&(_, u)| u)
    }

    /// `SELECT COUNT(*) FROM members WHERE user = ?` (a scan: no index by user here).
    fn groups_of_user(&self, user: UserId) -> u64 {
        self.members.iter().filter(|&&(_, u)| u == user).count() as u64
    }

    /// The caps check of a membership change: `new` users (none a member yet) joining a group
    /// of `current` members.
    fn check_caps(&self, current: usize, new: &BTreeSet<UserId>, caps: GroupCaps) -> Result<()> {
        if (current + new.len()) as u64 > caps.max_members {
            return Err(StorageError::Conflict(Conflict::GroupFull));
        }
        if new
            .iter()
            .any(|&u| self.groups_of_user(u) >= caps.max_groups_per_user)
        {
            return Err(StorageError::Conflict(Conflict::TooManyGroups));
        }
        Ok(())
    }

    fn group_row(&self, id: GroupId) -> Option<Group> {
        self.groups.get(&id).map(|(name, owner)| Group {
            id,
            name: name.clone(),
            owner: *owner,
            member_count: self.member_ids(id).count() as u64,
        })
    }

    /// `DELETE FROM inbox WHERE user = ? AND <the message matches>`.
    fn drop_pending(&mut self, user: UserId, matches: impl Fn(&StoredMessage) -> bool) {
        let doomed: Vec<(UserId, u64)> = self
            .inbox
            .range((user, 0)..=(user, u64::MAX))
            .filter(|&&(_, order)| matches(self.message(order)))
            .copied()
            .collect();
        for row in doomed {
            self.inbox.remove(&row);
        }
    }
}

#[async_trait]
impl GroupStore for TableStorage {
    async fn create_group_within(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<Group> {
        let mut db = self.db();
        if db.groups.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Group));
        }
        let all: BTreeSet<UserId> = std::iter::once(owner)
            .chain(members.iter().copied())
            .collect();
        if all.iter().any(|u| !db.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        db.check_caps(0, &all, caps)?;
        db.groups.insert(id, (name.to_owned(), owner));
        for &u in &all {
            db.join_conversation(u, Conversation::Group(id));
        }
        db.members.extend(all.into_iter().map(|u| (id, u)));
        db.outbox.insert_all(events);
        Ok(db.group_row(id).expect("inserted above"))
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
        events: &[NewEvent],
    ) -> Result<()> {
        let mut db = self.db();
        if !db.groups.contains_key(&group) {
            return Err(StorageError::NotFound(Entity::Group));
        }
        if users.iter().any(|u| !db.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        let new: BTreeSet<UserId> = users
            .iter()
            .copied()
            .filter(|&u| !db.members.contains(&(group, u)))
            .collect();
        db.check_caps(db.member_ids(group).count(), &new, caps)?;
        // Inbox rows are written when a message is stored, so a new member is pending for
        // nothing older than its membership without any extra bookkeeping.
        let joined = db
            .by_conv
            .get(&Conversation::Group(group))
            .map_or(0, |seqs| seqs.len() as u64);
        for &u in &new {
            db.join_conversation(u, Conversation::Group(group));
            db.member_rows.insert((group, u), (false, 0, joined));
        }
        db.members.extend(new.into_iter().map(|u| (group, u)));
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId, events: &[NewEvent]) -> Result<()> {
        let mut db = self.db();
        if !db.groups.contains_key(&group) {
            return Err(StorageError::NotFound(Entity::Group));
        }
        if !db.members.remove(&(group, user)) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        db.member_rows.remove(&(group, user));
        let conv = Conversation::Group(group);
        db.drop_pending(user, |m| m.conversation() == conv);
        // A later rejoin starts afresh; an old receipt must not hide its new messages' status.
        db.receipts.remove(&(user, conv));
        db.conversations.remove(&(user, conv));
        db.outbox.insert_all(events);
        Ok(())
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        Ok(self.db().group_row(id))
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let db = self.db();
        let ids = db
            .members
            .iter()
            .filter(|&&(g, u)| u == user && page.after.is_none_or(|a| g > a))
            .map(|&(g, _)| g)
            .take(page.limit);
        Ok(ids.filter_map(|g| db.group_row(g)).collect())
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let db = self.db();
        let ids = db
            .member_ids(group)
            .filter(|&u| page.after.is_none_or(|a| u > a));
        Ok(db.profiles(ids.take(page.limit)))
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        Ok(self.db().members.contains(&(group, user)))
    }
}

#[async_trait]
impl MessageStore for TableStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut db = self.db();
        let recipients: Vec<UserId> = match msg.chat_type {
            ChatType::Single if !db.users.contains_key(&msg.to) => return Ok(StoreOutcome::NoUser),
            ChatType::Single => vec![msg.to],
            ChatType::Group if !db.groups.contains_key(&msg.to) => {
                return Ok(StoreOutcome::NoGroup)
            }
            // The system (the server API's sender) writes to any group.
            ChatType::Group
                if msg.from != SYSTEM_USER && !db.members.contains(&(msg.to, msg.from)) =>
            {
                return Ok(StoreOutcome::NotMember)
            }
            ChatType::Group => db.member_ids(msg.to).filter(|&u| u != msg.from).collect(),
        };
        let conv = msg.conversation();
        if let Some(&order) = db.by_id.get(&(conv, msg.id.clone())) {
            let stored = db.message(order);
            return Ok(if stored.from == msg.from {
                StoreOutcome::Duplicate(stored.clone())
            } else {
                StoreOutcome::IdTaken
            });
        }
        // The one lock makes "next conv_seq" and "next order" race-free; a SQL backend gets the
        // same from a per-conversation counter row updated in the transaction.
        let order = db.messages.len() as u64 + 1;
        if msg.chat_type == ChatType::Single && !db.by_conv.contains_key(&conv) {
            db.join_conversation(msg.from, conv);
            db.join_conversation(msg.to, conv);
        }
        let orders = db.by_conv.entry(conv).or_default();
        orders.push(order);
        let message = StoredMessage {
            conv_seq: orders.len() as u64,
            id: msg.id.clone(),
            from: msg.from,
            to: msg.to,
            chat_type: msg.chat_type,
            msg_type: msg.msg_type,
            content: msg.content.clone(),
            timestamp: msg.timestamp,
            ref_id: msg.ref_id.clone(),
            recalled: false,
            edited_at: 0,
        };
        // A RECALL or EDIT changes its target's row in the same step.
        if let Some(&target) = db.by_id.get(&(conv, msg.ref_id.clone())) {
            recall::apply(&mut db.messages[target as usize - 1], &msg);
        }
        db.by_id.insert((conv, message.id.clone()), order);
        db.messages.push(message.clone());
        db.sent(message.from, conv, message.conv_seq);
        // Nothing is pending for its own sender (a note to oneself included).
        let inbox_rows = recipients
            .iter()
            .filter(|&&u| u != message.from)
            .map(|&u| (u, order));
        let rows: Vec<_> = inbox_rows.collect();
        db.inbox.extend(rows);
        if self
            .events
            .wants(easyim_core::EventKind::of_message(message.msg_type))
        {
            let event = easyim_core::message_created(&message, &recipients);
            db.outbox.insert(event);
        }
        Ok(StoreOutcome::Stored {
            message,
            recipients,
        })
    }

    async fn record_receipt(
        &self,
        reader: UserId,
        conv: Conversation,
        id: &str,
        receipt: Receipt,
    ) -> Result<Option<StoredMessage>> {
        let mut db = self.db();
        let Some(&order) = db.by_id.get(&(conv, id.to_owned())) else {
            return Ok(None);
        };
        let message = db.message(order).clone();
        let recipient = message.from != reader
            && match conv {
                Conversation::Direct { low, high } => reader == low || reader == high,
                Conversation::Group(g) => db.members.contains(&(g, reader)),
            };
        if !recipient {
            return Ok(None);
        }
        let seq = message.conv_seq;
        let cursor = db.receipts.entry((reader, conv)).or_default();
        cursor.0 = cursor.0.max(seq);
        if receipt == Receipt::Read {
            cursor.1 = cursor.1.max(seq);
        }
        // Cumulative: this message and every earlier one of the conversation is no longer pending.
        db.drop_pending(reader, |m| m.conversation() == conv && m.conv_seq <= seq);
        Ok(Some(message))
    }

    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> Result<ReadOutcome> {
        Ok(self.db().record_read(reader, conv, at))
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        let db = self.db();
        let rows = db
            .inbox
            .range((user, after.saturating_add(1))..=(user, u64::MAX));
        Ok(rows
            .take(limit)
            .map(|&(_, order)| PendingMessage {
                order,
                message: db.message(order).clone(),
            })
            .collect())
    }

    async fn message(&self, conv: Conversation, id: &str) -> Result<Option<StoredMessage>> {
        let db = self.db();
        let order = db.by_id.get(&(conv, id.to_owned())).copied();
        Ok(order.map(|o| db.message(o).clone()))
    }

    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64> {
        let mut db = self.db();
        let seqs: Vec<u64> = ids
            .iter()
            .filter_map(|id| db.by_id.get(&(conv, id.clone())).copied())
            .map(|o| db.message(o).conv_seq)
            .collect();
        Ok(seqs
            .into_iter()
            .filter(|&s| db.hidden.insert((user, conv, s)))
            .count() as u64)
    }

    async fn hidden_seqs(
        &self,
        user: UserId,
        conv: Conversation,
        seqs: &[u64],
    ) -> Result<Vec<u64>> {
        let db = self.db();
        let found: BTreeSet<u64> = seqs
            .iter()
            .copied()
            .filter(|&s| db.hidden.contains(&(user, conv, s)))
            .collect();
        Ok(found.into_iter().collect())
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>> {
        let db = self.db();
        let orders = db.by_conv.get(&conv).map(Vec::as_slice).unwrap_or_default();
        // conv_seq n is at index n - 1.
        let picked: Vec<u64> = match page {
            HistoryPage::Latest => orders.iter().rev().take(limit).copied().collect(),
            HistoryPage::Before(n) => {
                let end = (n.saturating_sub(1) as usize).min(orders.len());
                orders[..end].iter().rev().take(limit).copied().collect()
            }
            HistoryPage::After(n) => {
                let start = (n as usize).min(orders.len());
                orders[start..].iter().take(limit).copied().collect()
            }
        };
        Ok(picked
            .into_iter()
            .map(|order| {
                let m = db.message(order).clone();
                let status = match conv {
                    Conversation::Group(_) => MsgStatus::Sent,
                    Conversation::Direct { .. } => {
                        let (arrived, read) =
                            db.receipts.get(&(m.to, conv)).copied().unwrap_or_default();
                        if read >= m.conv_seq {
                            MsgStatus::Read
                        } else if arrived >= m.conv_seq {
                            MsgStatus::Arrived
                        } else {
                            MsgStatus::Sent
                        }
                    }
                };
                HistoryItem { message: m, status }
            })
            .collect())
    }
}
