//! [`MemoryStorage`]: a complete [`crate::Storage`] kept in memory, for tests and embedding.
//!
//! This file holds the state and the [`MessageStore`] part; `accounts`, `friends`, `groups`,
//! `conversations`, `moderation` and `devices` hold the [`crate::AccountStore`],
//! [`crate::FriendStore`],
//! [`crate::GroupStore`], [`crate::ConversationStore`] (and the read positions) and
//! [`crate::ModerationStore`] and [`crate::DeviceStore`] parts.

mod accounts;
mod conversations;
mod devices;
mod friends;
mod groups;
mod hidden;
mod moderation;
mod outbox;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use easyim_proto::{ChatType, MsgStatus};

use crate::error::{Conflict, Result, StorageError};
use crate::read::{ReadAt, ReadOutcome};
use crate::recall;
use crate::roles::GroupSettings;
use crate::storage::MessageStore;
use crate::types::{
    Conversation, FriendRequest, Group, GroupCaps, GroupId, HistoryItem, HistoryPage, NewMessage,
    PendingMessage, Profile, Receipt, StoreOutcome, StoredMessage, User, UserId,
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
    events: crate::events::EventFilter,
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
    /// Refresh-token families: (user, family) to generation.
    refresh: HashMap<(UserId, u64), u64>,
    /// Friend requests in creation order (newest last), and where each is in that list.
    requests: Vec<FriendRequest>,
    request_index: HashMap<u64, usize>,
    /// Friendships, both directions.
    friends: BTreeSet<(UserId, UserId)>,
    /// Blocks: (the user who blocked, the user blocked).
    blocks: BTreeSet<(UserId, UserId)>,
    /// Friend remarks: (user, friend) to the remark; absent when there is none.
    remarks: HashMap<(UserId, UserId), String>,
    /// Join requests, by id.
    join_requests: BTreeMap<u64, crate::roles::JoinRequest>,
    groups: BTreeMap<GroupId, GroupState>,
    /// Every (member, group) pair: the index of a user's groups, in id order.
    memberships: BTreeSet<(UserId, GroupId)>,
    conversations: HashMap<Conversation, ConvState>,
    /// Each user's cursors, by conversation. A group member has one for its group exactly while
    /// it is a member; both users of a 1:1 conversation have one from its first message on.
    cursors: HashMap<UserId, BTreeMap<Conversation, Cursor>>,
    /// Counts committed messages; a message's count is its `order` in `pending`.
    commits: u64,
    /// Push devices: token to (owner, device). A token is one device, owned by one user.
    devices: HashMap<String, (UserId, crate::types::Device)>,
    /// The messages each user removed from its own view: (user, conversation, conv_seq).
    hidden: BTreeSet<(UserId, Conversation, u64)>,
    /// The webhook outbox.
    outbox: outbox::Events,
}

#[derive(Debug)]
struct GroupState {
    name: String,
    owner: UserId,
    members: BTreeSet<UserId>,
    settings: GroupSettings,
    /// The admins (never the owner).
    admins: BTreeSet<UserId>,
    /// Muted members, until when.
    muted: BTreeMap<UserId, i64>,
    /// Each member's join position (absent: 0, a member the group was created with).
    joined: BTreeMap<UserId, u64>,
}

impl GroupState {
    /// Forgets everything about `user` that goes with its membership.
    fn forget_member(&mut self, user: UserId) {
        self.admins.remove(&user);
        self.muted.remove(&user);
        self.joined.remove(&user);
    }
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

/// The highest `conv_seq` a user has receipted in a conversation, per receipt kind, and the
/// user's own place and settings in it.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    arrived: u64,
    read: u64,
    /// The `conv_seq` of the user's own newest message.
    own: u64,
    pinned: bool,
    muted: bool,
    /// Hidden while the conversation's last `conv_seq` is at most this.
    hidden: Option<u64>,
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
                ..Cursor::default()
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
                if msg.from != crate::SYSTEM_USER && !g.members.contains(&msg.from) {
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
        if let Some(&at) = c.ids.get(&msg.ref_id) {
            recall::apply(&mut c.messages[at].message, &msg);
        }
        c.ids.insert(message.id.clone(), c.messages.len());
        c.messages.push(Entry {
            order,
            message: message.clone(),
        });
        if let Some(own) = st
            .cursors
            .get_mut(&msg.from)
            .and_then(|cs| cs.get_mut(&conv))
        {
            own.own = message.conv_seq;
        }
        if self
            .events
            .wants(crate::events::EventKind::of_message(message.msg_type))
        {
            st.outbox
                .push(crate::events::message_created(&message, &recipients));
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

    async fn record_read(
        &self,
        reader: UserId,
        conv: Conversation,
        at: ReadAt,
    ) -> Result<ReadOutcome> {
        Ok(self.lock().record_read(reader, conv, at))
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

    async fn hide_messages(&self, user: UserId, conv: Conversation, ids: &[String]) -> Result<u64> {
        Ok(self.lock().hide(user, conv, ids))
    }

    async fn hidden_seqs(
        &self,
        user: UserId,
        conv: Conversation,
        seqs: &[u64],
    ) -> Result<Vec<u64>> {
        Ok(self.lock().hidden_among(user, conv, seqs))
    }

    async fn message(&self, conv: Conversation, id: &str) -> Result<Option<StoredMessage>> {
        let st = self.lock();
        Ok(st
            .conversations
            .get(&conv)
            .and_then(|c| c.ids.get(id).map(|&at| c.messages[at].message.clone())))
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
