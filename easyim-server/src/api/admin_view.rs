//! The typed bodies (`data`) of the server API's answers. Ids are decimal strings.

use easyim_core::{Created, Device, GroupState, SendOutcome, Sent, ServerState, UserState};
use easyim_proto::ChatType;
use serde::Serialize;

use super::view::GroupView;

/// One conversation's outcome of `/api/admin/message/send`.
#[derive(Debug, Serialize)]
pub(crate) struct SentView {
    /// The recipient user (SINGLE) or group (GROUP).
    to: String,
    /// 0 SINGLE, 1 GROUP.
    chat_type: i32,
    /// `stored`, `duplicate`, `no_user`, `no_group`, `not_member` or `id_taken`.
    outcome: &'static str,
    /// The message's place in its conversation (stored and duplicate only; else 0).
    conv_seq: u64,
    /// When it was stored, ms since the Unix epoch (stored and duplicate only; else 0).
    timestamp: i64,
}

impl From<Sent> for SentView {
    fn from(s: Sent) -> Self {
        let (outcome, message) = match s.outcome {
            SendOutcome::Stored(m) => ("stored", Some(m)),
            SendOutcome::Duplicate(m) => ("duplicate", Some(m)),
            SendOutcome::NoUser => ("no_user", None),
            SendOutcome::NoGroup => ("no_group", None),
            SendOutcome::NotMember => ("not_member", None),
            SendOutcome::IdTaken => ("id_taken", None),
        };
        SentView {
            to: s.to.to_string(),
            chat_type: match s.chat_type {
                ChatType::Single => 0,
                ChatType::Group => 1,
            },
            outcome,
            conv_seq: message.as_ref().map_or(0, |m| m.conv_seq),
            timestamp: message.map_or(0, |m| m.timestamp),
        }
    }
}

/// One account of `/api/admin/users/create`.
#[derive(Debug, Serialize)]
pub(crate) struct CreatedView {
    id: String,
    account: String,
    nickname: String,
    /// false: the account existed already (nothing changed).
    created: bool,
}

impl From<Created> for CreatedView {
    fn from(c: Created) -> Self {
        let (p, created) = match c {
            Created::Created(p) => (p, true),
            Created::Existing(p) => (p, false),
        };
        CreatedView {
            id: p.id.to_string(),
            account: p.account,
            nickname: p.nickname,
            created,
        }
    }
}

/// A push device.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceView {
    platform: String,
    token: String,
    updated_at: i64,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        DeviceView {
            platform: d.platform,
            token: d.token,
            updated_at: d.updated_at,
        }
    }
}

/// `/api/admin/user/state`.
#[derive(Debug, Serialize)]
pub(crate) struct UserStateView {
    id: String,
    account: String,
    nickname: String,
    disabled: bool,
    online: bool,
    /// Connections on the node that answered.
    connections: usize,
    group_ids: Vec<String>,
    devices: Vec<DeviceView>,
}

impl From<UserState> for UserStateView {
    fn from(s: UserState) -> Self {
        UserStateView {
            id: s.profile.id.to_string(),
            account: s.profile.account,
            nickname: s.profile.nickname,
            disabled: s.disabled,
            online: s.connections > 0,
            connections: s.connections,
            group_ids: s.groups.iter().map(ToString::to_string).collect(),
            devices: s.devices.into_iter().map(Into::into).collect(),
        }
    }
}

/// `/api/admin/group/state`.
#[derive(Debug, Serialize)]
pub(crate) struct GroupStateView {
    #[serde(flatten)]
    group: GroupView,
    member_ids: Vec<String>,
    online_members: usize,
}

impl From<GroupState> for GroupStateView {
    fn from(s: GroupState) -> Self {
        GroupStateView {
            group: s.group.into(),
            member_ids: s.members.iter().map(ToString::to_string).collect(),
            online_members: s.online_members,
        }
    }
}

/// `/api/admin/server/state`.
#[derive(Debug, Serialize)]
pub(crate) struct ServerStateView {
    node_id: u16,
    online_users: usize,
    connections: usize,
    shutting_down: bool,
}

impl From<ServerState> for ServerStateView {
    fn from(s: ServerState) -> Self {
        ServerStateView {
            node_id: s.node_id,
            online_users: s.online_users,
            connections: s.connections,
            shutting_down: s.shutting_down,
        }
    }
}

/// `/api/admin/user/kick`.
#[derive(Debug, Serialize)]
pub(crate) struct Kicked {
    pub(crate) connections: usize,
}
