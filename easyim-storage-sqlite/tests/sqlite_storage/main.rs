//! `SqliteStorage`: the conformance kit, plus what only a database file has (reopening, group
//! commit, failures of the file system and recovery from them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use easyim_core::{
    AccountStore, Conflict, Conversation, ConversationStore, GroupStore, HistoryPage, MessageStore,
    NewMessage, Receipt, Storage, StorageError, StoreOutcome, User, UserId,
};
use easyim_proto::{ChatType, MsgStatus};
use easyim_storage_sqlite::{SqliteOptions, SqliteStorage, Synchronous};
use tempfile::TempDir;

fn user(id: UserId, account: &str) -> User {
    User {
        id,
        account: account.into(),
        nickname: format!("{account} nick"),
        avatar: String::new(),
        password_hash: "$argon2id$fake".into(),
        secret: format!("{account}-secret"),
    }
}

fn text(id: &str, from: UserId, to: u64, chat_type: ChatType, content: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        from,
        to,
        chat_type,
        msg_type: 0,
        content: content.into(),
        timestamp: 1_700_000_000_000,
        ref_id: String::new(),
    }
}

fn open(dir: &TempDir, opts: SqliteOptions) -> SqliteStorage {
    SqliteStorage::open(dir.path().join("easyim.db"), opts).expect("open")
}

fn conv_seq(outcome: StoreOutcome) -> u64 {
    match outcome {
        StoreOutcome::Stored { message, .. } => message.conv_seq,
        other => panic!("not stored: {other:?}"),
    }
}

mod commits;
mod failures;
mod persistence;
mod throughput;
