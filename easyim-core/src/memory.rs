//! [`MemoryStorage`]: a complete [`crate::Storage`] kept in memory, for tests and embedding.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use easyim_proto::{ChatType, MsgStatus};

use crate::error::{Conflict, Entity, Result, StorageError};
use crate::storage::{AccountStore, FriendStore, GroupStore, MessageStore};
use crate::types::{
    Conversation, FriendRequest, Group, GroupCaps, GroupId, HistoryItem, HistoryPage, NewMessage,
    Page, PendingMessage, Profile, Receipt, RequestStatus, StoreOutcome, StoredMessage, User,
    UserId,
};

/// A [`crate::Storage`] (every storage trait) that keeps everything in memory and loses it on drop.
///
/// One mutex guards the whole state, so every call is trivially atomic and sees the effects of
/// every call that returned before it. Pending messages are not kept per recipient: each user
/// has one cursor per conversation it takes part in (how far it has receipted), and a message
/// is pending for a user when it is above that cursor and was not sent by the user. This is the
/// model protocol.md section 4 describes ("one cursor per user and conversation").
#[derive(Debug, Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every call checks before it changes anything, so a panic elsewhere while the lock was
        // held cannot have left a half-done change behind; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, User>,
    accounts: HashMap<String, UserId>,
    server_secret: Option<String>,
    /// Friend requests in creation order (newest last), and where each is in that list.
    requests: Vec<FriendRequest>,
    request_index: HashMap<u64, usize>,
    /// Friendships, both directions.
    friends: BTreeSet<(UserId, UserId)>,
    groups: BTreeMap<GroupId, GroupState>,
    /// Every (member, group) pair: the index of a user's groups, in id order.
    memberships: BTreeSet<(UserId, GroupId)>,
    conversations: HashMap<Conversation, ConvState>,
    /// Each user's cursors, by conversation. A group member has one for its group exactly while
    /// it is a member; both users of a 1:1 conversation have one from its first message on.
    cursors: HashMap<UserId, BTreeMap<Conversation, Cursor>>,
    /// Counts committed messages; a message's count is its `order` in `pending`.
    commits: u64,
}

#[derive(Debug)]
struct GroupState {
    name: String,
    owner: UserId,
    members: BTreeSet<UserId>,
}

#[derive(Debug, Default)]
struct ConvState {
    /// The conversation's messages; the one at index `i` has `conv_seq` `i + 1`.
    messages: Vec<Entry>,
    /// Message id to index in `messages`.
    ids: HashMap<String, usize>,
}

#[derive(Debug)]
struct Entry {
    order: u64,
    message: StoredMessage,
}

/// The highest `conv_seq` a user has receipted in a conversation, per receipt kind.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    arrived: u64,
    read: u64,
}

impl State {
    fn profiles(&self, ids: impl IntoIterator<Item = UserId>) -> Vec<Profile> {
        ids.into_iter()
            .filter_map(|id| self.users.get(&id).map(User::profile))
            .collect()
    }

    fn group_record(&self, id: GroupId, g: &GroupState) -> Group {
        Group {
            id,
            name: g.name.clone(),
            owner: g.owner,
            member_count: g.members.len() as u64,
        }
    }

    fn group_count(&self, user: UserId) -> u64 {
        self.memberships
            .range((user, GroupId::MIN)..=(user, GroupId::MAX))
            .count() as u64
    }

    /// Checks `caps` for `new` users (none of them a member yet) joining a group of `current`
    /// members.
    fn check_caps(&self, current: usize, new: &BTreeSet<UserId>, caps: GroupCaps) -> Result<()> {
        if (current + new.len()) as u64 > caps.max_members {
            return Err(StorageError::Conflict(Conflict::GroupFull));
        }
        if new
            .iter()
            .any(|&u| self.group_count(u) >= caps.max_groups_per_user)
        {
            return Err(StorageError::Conflict(Conflict::TooManyGroups));
        }
        Ok(())
    }

    fn last_seq(&self, conv: Conversation) -> u64 {
        self.conversations
            .get(&conv)
            .map_or(0, |c| c.messages.len() as u64)
    }

    /// Starts `user`'s cursor in `conv` at `at`, unless it has one.
    fn ensure_cursor(&mut self, user: UserId, conv: Conversation, at: u64) {
        self.cursors
            .entry(user)
            .or_default()
            .entry(conv)
            .or_insert(Cursor {
                arrived: at,
                read: at,
            });
    }

    fn drop_cursor(&mut self, user: UserId, conv: Conversation) {
        if let Some(cs) = self.cursors.get_mut(&user) {
            cs.remove(&conv);
            if cs.is_empty() {
                self.cursors.remove(&user);
            }
        }
    }

    fn cursor(&self, user: UserId, conv: Conversation) -> Cursor {
        self.cursors
            .get(&user)
            .and_then(|cs| cs.get(&conv))
            .copied()
            .unwrap_or_default()
    }
}

#[async_trait]
impl AccountStore for MemoryStorage {
    async fn create_user(&self, user: User) -> Result<User> {
        let mut st = self.lock();
        if st.accounts.contains_key(&user.account) {
            return Err(StorageError::Conflict(Conflict::Account));
        }
        if st.users.contains_key(&user.id) {
            return Err(StorageError::Conflict(Conflict::User));
        }
        st.accounts.insert(user.account.clone(), user.id);
        st.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_account(&self, account: &str) -> Result<Option<User>> {
        let st = self.lock();
        Ok(st
            .accounts
            .get(account)
            .and_then(|id| st.users.get(id))
            .cloned())
    }

    async fn set_user_secret(&self, id: UserId, secret: &str) -> Result<()> {
        let mut st = self.lock();
        let user = st
            .users
            .get_mut(&id)
            .ok_or(StorageError::NotFound(Entity::User))?;
        user.secret = secret.to_owned();
        Ok(())
    }

    async fn search_users(&self, query: &str, limit: usize) -> Result<Vec<Profile>> {
        let st = self.lock();
        Ok(st
            .users
            .values()
            .filter(|u| u.account.contains(query))
            .take(limit)
            .map(User::profile)
            .collect())
    }

    async fn server_secret(&self, candidate: &str) -> Result<String> {
        let mut st = self.lock();
        Ok(st
            .server_secret
            .get_or_insert_with(|| candidate.to_owned())
            .clone())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl FriendStore for MemoryStorage {
    async fn create_friend_request(
        &self,
        id: u64,
        from: UserId,
        to: UserId,
        msg: &str,
    ) -> Result<FriendRequest> {
        let mut st = self.lock();
        if !st.users.contains_key(&to) {
            return Err(StorageError::NotFound(Entity::User));
        }
        if st.friends.contains(&(from, to)) {
            return Err(StorageError::Conflict(Conflict::AlreadyFriends));
        }
        if let Some(open) = st
            .requests
            .iter()
            .find(|r| r.from == from && r.to == to && r.status == RequestStatus::Open)
        {
            return Ok(open.clone());
        }
        if st.request_index.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Request));
        }
        let req = FriendRequest {
            id,
            from,
            to,
            msg: msg.to_owned(),
            status: RequestStatus::Open,
        };
        let at = st.requests.len();
        st.requests.push(req.clone());
        st.request_index.insert(id, at);
        Ok(req)
    }

    async fn friend_requests(&self, to: UserId, page: Page) -> Result<Vec<FriendRequest>> {
        let st = self.lock();
        // `requests` is in arrival order: the page is what came before the named request.
        let end = match page.after {
            None => st.requests.len(),
            Some(after) => st.request_index.get(&after).copied().unwrap_or(0),
        };
        Ok(st.requests[..end]
            .iter()
            .rev()
            .filter(|r| r.to == to)
            .take(page.limit)
            .cloned()
            .collect())
    }

    async fn answer_friend_request(
        &self,
        id: u64,
        to: UserId,
        accept: bool,
    ) -> Result<FriendRequest> {
        let mut st = self.lock();
        let at = match st.request_index.get(&id) {
            Some(&at) if st.requests[at].to == to => at,
            _ => return Err(StorageError::NotFound(Entity::Request)),
        };
        if st.requests[at].status != RequestStatus::Open {
            return Err(StorageError::Conflict(Conflict::AlreadyAnswered));
        }
        let req = &mut st.requests[at];
        req.status = if accept {
            RequestStatus::Accepted
        } else {
            RequestStatus::Refused
        };
        let req = req.clone();
        if accept {
            st.friends.insert((req.from, req.to));
            st.friends.insert((req.to, req.from));
        }
        Ok(req)
    }

    async fn friends(&self, user: UserId, page: Page) -> Result<Vec<Profile>> {
        let st = self.lock();
        let ids: Vec<UserId> = st
            .friends
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .map(|&(_, f)| f)
            .filter(|&f| page.after.is_none_or(|after| f > after))
            .take(page.limit)
            .collect();
        Ok(st.profiles(ids))
    }

    async fn friend_count(&self, user: UserId) -> Result<u64> {
        let st = self.lock();
        Ok(st
            .friends
            .range((user, UserId::MIN)..=(user, UserId::MAX))
            .count() as u64)
    }

    async fn remove_friend(&self, user: UserId, friend: UserId) -> Result<()> {
        let mut st = self.lock();
        if !st.friends.remove(&(user, friend)) {
            return Err(StorageError::NotFound(Entity::Friend));
        }
        st.friends.remove(&(friend, user));
        Ok(())
    }
}

#[async_trait]
impl GroupStore for MemoryStorage {
    async fn create_group_within(
        &self,
        id: GroupId,
        name: &str,
        owner: UserId,
        members: &[UserId],
        caps: GroupCaps,
    ) -> Result<Group> {
        let mut st = self.lock();
        if st.groups.contains_key(&id) {
            return Err(StorageError::Conflict(Conflict::Group));
        }
        let all: BTreeSet<UserId> = std::iter::once(owner)
            .chain(members.iter().copied())
            .collect();
        if all.iter().any(|u| !st.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        st.check_caps(0, &all, caps)?;
        let conv = Conversation::Group(id);
        for &u in &all {
            st.ensure_cursor(u, conv, 0);
            st.memberships.insert((u, id));
        }
        let g = GroupState {
            name: name.to_owned(),
            owner,
            members: all,
        };
        let record = st.group_record(id, &g);
        st.groups.insert(id, g);
        Ok(record)
    }

    async fn add_members_within(
        &self,
        group: GroupId,
        users: &[UserId],
        caps: GroupCaps,
    ) -> Result<()> {
        let mut st = self.lock();
        let Some(g) = st.groups.get(&group) else {
            return Err(StorageError::NotFound(Entity::Group));
        };
        if users.iter().any(|u| !st.users.contains_key(u)) {
            return Err(StorageError::NotFound(Entity::User));
        }
        let current = g.members.len();
        let new: BTreeSet<UserId> = users
            .iter()
            .copied()
            .filter(|u| !g.members.contains(u))
            .collect();
        st.check_caps(current, &new, caps)?;
        let conv = Conversation::Group(group);
        // A new member's cursor starts at the newest message: what came before is not for it.
        let last = st.last_seq(conv);
        for u in new {
            if let Some(g) = st.groups.get_mut(&group) {
                g.members.insert(u);
            }
            st.memberships.insert((u, group));
            st.ensure_cursor(u, conv, last);
        }
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()> {
        let mut st = self.lock();
        let g = st
            .groups
            .get_mut(&group)
            .ok_or(StorageError::NotFound(Entity::Group))?;
        if !g.members.remove(&user) {
            return Err(StorageError::NotFound(Entity::Member));
        }
        st.memberships.remove(&(user, group));
        // Without its cursor nothing of the group is pending for it any more, and a later
        // rejoin starts a fresh cursor at the then newest message.
        st.drop_cursor(user, Conversation::Group(group));
        Ok(())
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        let st = self.lock();
        Ok(st.groups.get(&id).map(|g| st.group_record(id, g)))
    }

    async fn groups_of(&self, user: UserId, page: Page) -> Result<Vec<Group>> {
        let st = self.lock();
        let from = page.after.map_or(GroupId::MIN, |a| a.saturating_add(1));
        if page.after == Some(GroupId::MAX) {
            return Ok(Vec::new());
        }
        Ok(st
            .memberships
            .range((user, from)..=(user, GroupId::MAX))
            .filter_map(|&(_, id)| st.groups.get(&id).map(|g| st.group_record(id, g)))
            .take(page.limit)
            .collect())
    }

    async fn group_members(&self, group: GroupId, page: Page) -> Result<Vec<Profile>> {
        let st = self.lock();
        let Some(g) = st.groups.get(&group) else {
            return Ok(Vec::new());
        };
        let ids = g
            .members
            .iter()
            .copied()
            .filter(|&u| page.after.is_none_or(|after| u > after))
            .take(page.limit);
        Ok(st.profiles(ids))
    }

    async fn is_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        let st = self.lock();
        Ok(st
            .groups
            .get(&group)
            .is_some_and(|g| g.members.contains(&user)))
    }
}

#[async_trait]
impl MessageStore for MemoryStorage {
    async fn store_message(&self, msg: NewMessage) -> Result<StoreOutcome> {
        let mut st = self.lock();
        let conv = msg.conversation();
        let recipients = match msg.chat_type {
            ChatType::Single => {
                if !st.users.contains_key(&msg.to) {
                    return Ok(StoreOutcome::NoUser);
                }
                vec![msg.to]
            }
            ChatType::Group => {
                let Some(g) = st.groups.get(&msg.to) else {
                    return Ok(StoreOutcome::NoGroup);
                };
                if !g.members.contains(&msg.from) {
                    return Ok(StoreOutcome::NotMember);
                }
                g.members
                    .iter()
                    .copied()
                    .filter(|&m| m != msg.from)
                    .collect()
            }
        };
        if let Some(c) = st.conversations.get(&conv) {
            if let Some(&at) = c.ids.get(&msg.id) {
                let stored = &c.messages[at].message;
                return Ok(if stored.from == msg.from {
                    StoreOutcome::Duplicate(stored.clone())
                } else {
                    StoreOutcome::IdTaken
                });
            }
        }
        st.commits += 1;
        let order = st.commits;
        if msg.chat_type == ChatType::Single {
            st.ensure_cursor(msg.from, conv, 0);
            st.ensure_cursor(msg.to, conv, 0);
        }
        let c = st.conversations.entry(conv).or_default();
        let message = StoredMessage {
            conv_seq: c.messages.len() as u64 + 1,
            id: msg.id,
            from: msg.from,
            to: msg.to,
            chat_type: msg.chat_type,
            msg_type: msg.msg_type,
            content: msg.content,
            timestamp: msg.timestamp,
        };
        c.ids.insert(message.id.clone(), c.messages.len());
        c.messages.push(Entry {
            order,
            message: message.clone(),
        });
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
        let mut st = self.lock();
        let Some(message) = st
            .conversations
            .get(&conv)
            .and_then(|c| c.ids.get(id).map(|&at| c.messages[at].message.clone()))
        else {
            return Ok(None);
        };
        let recipient = message.from != reader
            && match conv {
                Conversation::Direct { low, high } => reader == low || reader == high,
                Conversation::Group(g) => st
                    .groups
                    .get(&g)
                    .is_some_and(|g| g.members.contains(&reader)),
            };
        if !recipient {
            return Ok(None);
        }
        let seq = message.conv_seq;
        let cursor = st
            .cursors
            .entry(reader)
            .or_default()
            .entry(conv)
            .or_default();
        cursor.arrived = cursor.arrived.max(seq);
        if receipt == Receipt::Read {
            cursor.read = cursor.read.max(seq);
        }
        Ok(Some(message))
    }

    async fn pending(&self, user: UserId, after: u64, limit: usize) -> Result<Vec<PendingMessage>> {
        let st = self.lock();
        let Some(cursors) = st.cursors.get(&user) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (conv, cursor) in cursors {
            let Some(c) = st.conversations.get(conv) else {
                continue;
            };
            let unreceipted = c
                .messages
                .get(cursor.arrived as usize..)
                .unwrap_or_default();
            // Within a conversation `order` grows with `conv_seq`, so the page starts at one
            // place and each conversation contributes at most `limit` messages.
            let start = unreceipted.partition_point(|e| e.order <= after);
            out.extend(
                unreceipted[start..]
                    .iter()
                    .filter(|e| e.message.from != user)
                    .take(limit)
                    .map(|e| PendingMessage {
                        order: e.order,
                        message: e.message.clone(),
                    }),
            );
        }
        out.sort_unstable_by_key(|p| p.order);
        out.truncate(limit);
        Ok(out)
    }

    async fn history(
        &self,
        conv: Conversation,
        page: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryItem>> {
        let st = self.lock();
        let Some(c) = st.conversations.get(&conv) else {
            return Ok(Vec::new());
        };
        let all = &c.messages;
        let picked: Vec<&Entry> = match page {
            HistoryPage::Latest => all.iter().rev().take(limit).collect(),
            HistoryPage::Before(n) => {
                let end = (n.saturating_sub(1) as usize).min(all.len());
                all[..end].iter().rev().take(limit).collect()
            }
            HistoryPage::After(n) => {
                let start = (n as usize).min(all.len());
                all[start..].iter().take(limit).collect()
            }
        };
        Ok(picked
            .into_iter()
            .map(|e| {
                let m = &e.message;
                let status = match conv {
                    Conversation::Group(_) => MsgStatus::Sent,
                    Conversation::Direct { .. } => {
                        let cur = st.cursor(m.to, conv);
                        if cur.read >= m.conv_seq {
                            MsgStatus::Read
                        } else if cur.arrived >= m.conv_seq {
                            MsgStatus::Arrived
                        } else {
                            MsgStatus::Sent
                        }
                    }
                };
                HistoryItem {
                    message: m.clone(),
                    status,
                }
            })
            .collect())
    }
}
