//! [`Im`]: the whole IM of one node: the engine (connections and messages) and the domain
//! services (accounts, friends, groups, history, conversations, devices, the server API's admin), built on one [`Storage`].

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::admin::Admin;
use crate::auth::Auth;
use crate::bus::{Bus, LocalBus};
use crate::conversations::Conversations;
use crate::devices::Devices;
use crate::engine::{Engine, EngineConfig};
use crate::friends::Friends;
use crate::groups::Groups;
use crate::history::History;
use crate::limits::Limits;
use crate::storage::Storage;

/// One easyim node with its whole domain. Cheap to clone.
///
/// A transport opens connections with [`Im::engine`] and serves everything else (sign-up,
/// friends, groups, history) by calling the services with the acting user; every rule (who may
/// read which history, who may invite) lives in the services, so each transport gets the same
/// behaviour.
#[derive(Debug, Clone)]
pub struct Im {
    engine: Engine,
    accounts: Accounts,
    friends: Friends,
    groups: Groups,
    history: History,
    conversations: Conversations,
    devices: Devices,
    admin: Admin,
}

impl Im {
    /// The IM on `storage` and `auth`, alone (no other nodes).
    pub fn new(storage: Arc<dyn Storage>, auth: Arc<dyn Auth>, config: EngineConfig) -> Self {
        Im::with_bus(storage, auth, config, Arc::new(LocalBus))
    }

    /// The IM that also reaches connections on other nodes through `bus`.
    pub fn with_bus(
        storage: Arc<dyn Storage>,
        auth: Arc<dyn Auth>,
        config: EngineConfig,
        bus: Arc<dyn Bus>,
    ) -> Self {
        let engine = Engine::build(
            storage.clone(),
            auth.clone(),
            config,
            bus,
            Some(storage.clone()),
        );
        engine.set_engine_events(storage.clone());
        let groups = Groups::new(
            storage.clone(),
            storage.clone(),
            storage.clone(),
            engine.clone(),
        );
        Im {
            admin: Admin::new(storage.clone(), auth.clone(), engine.clone()),
            devices: Devices::new(storage.clone()),
            accounts: Accounts::new(storage.clone(), auth, engine.clone()),
            friends: Friends::new(
                storage.clone(),
                storage.clone(),
                storage.clone(),
                engine.clone(),
            ),
            conversations: Conversations::new(
                storage.clone(),
                storage.clone(),
                groups.clone(),
                engine.clone(),
            ),
            history: History::new(storage.clone(), storage, groups.clone()),
            groups,
            engine,
        }
    }

    /// The same IM enforcing `limits` (group sizes, memberships, who may send 1:1 messages)
    /// instead of
    /// [`Limits::default`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        // History keeps its own copy of the groups service for its access rules only, which
        // the limits do not touch.
        self.groups = self.groups.with_limits(limits);
        self.engine.set_direct_messages(limits.direct_messages);
        self
    }

    /// The engine: connections, sessions, delivery.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Accounts and tokens.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Friends and friend requests.
    pub fn friends(&self) -> &Friends {
        &self.friends
    }

    /// Groups and members.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Conversation history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Each user's conversation list, read positions and settings.
    pub fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    /// Each user's push devices.
    pub fn devices(&self) -> &Devices {
        &self.devices
    }

    /// The server API's domain: what the team's backend may do for any user.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }
}
