//! Group roles and the rules a group's owner sets: who may join, who may invite, what a
//! newcomer sees, and who may speak.

use std::fmt;
use std::str::FromStr;

use crate::types::{GroupId, RequestStatus, UserId};

/// Defines an enum with a lowercase name per variant, parsed and shown by that name (the form
/// the HTTP API and the group events use) and stored as a small integer.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The lowercase name, as the API and the events write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The number storage keeps.
            pub fn code(self) -> i64 {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The value of a stored number; an unknown number is the default value, so that
            /// a row written by a newer server still reads.
            pub fn from_code(code: i64) -> Self {
                match code {
                    $($code => $name::$variant,)+
                    _ => $name::default(),
                }
            }

            /// Every accepted name, for error texts.
            pub const NAMES: &'static str = concat!($("`", $text, "` "),+);
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(
    /// A member's role in a group.
    Role {
        /// An ordinary member.
        #[default]
        Member = 0, "member";
        /// May act on members (kick, mute), approve join requests and change the group.
        Admin = 1, "admin";
        /// The one owner: may also act on admins, set roles, transfer and dismiss the group.
        Owner = 2, "owner";
    }
);

named!(
    /// Who may become a member without an invitation.
    JoinPolicy {
        /// Nobody: members join only when invited.
        #[default]
        Invite = 0, "invite";
        /// Anyone may ask; an admin approves or refuses.
        Approval = 1, "approval";
        /// Anyone may join.
        Open = 2, "open";
    }
);

named!(
    /// Who may invite users into a group.
    InvitePolicy {
        /// Every member.
        #[default]
        Members = 0, "members";
        /// The owner and the admins only.
        Admins = 1, "admins";
    }
);

named!(
    /// What history a new member sees.
    HistoryVisible {
        /// Only what was sent from its join on (history, pending and unread start there).
        #[default]
        Joined = 0, "joined";
        /// The whole history of the group.
        All = 1, "all";
    }
);

impl Role {
    /// Whether the role may act on members and change the group (owner and admins).
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::Owner)
    }
}

/// The settings of a group besides its name and members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSettings {
    /// The group's avatar (a URL or whatever the clients agree on).
    pub avatar: String,
    /// The group's notice, shown to its members.
    pub notice: String,
    /// Who may join without an invitation.
    pub join_policy: JoinPolicy,
    /// Who may invite.
    pub invite_policy: InvitePolicy,
    /// What history a new member sees.
    pub history_visible: HistoryVisible,
    /// While on, only the owner and the admins may send to the group.
    pub mute_all: bool,
}

/// A change to a group: each field that is `Some` is set, the others stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new avatar.
    pub avatar: Option<String>,
    /// A new notice.
    pub notice: Option<String>,
    /// A new join policy.
    pub join_policy: Option<JoinPolicy>,
    /// A new invite policy.
    pub invite_policy: Option<InvitePolicy>,
    /// A new history visibility.
    pub history_visible: Option<HistoryVisible>,
    /// Turns the group-wide mute on or off.
    pub mute_all: Option<bool>,
}

impl GroupUpdate {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == GroupUpdate::default()
    }
}

/// A member's standing in its group: what the send path and the history rules need, read in
/// one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberState {
    /// Its role.
    pub role: Role,
    /// Until when (milliseconds since the Unix epoch) it may not send; 0 if never muted.
    pub muted_until: i64,
    /// The group's last `conv_seq` when it joined (0 for the members it was created with):
    /// what it was sent and may read under [`HistoryVisible::Joined`] starts after it.
    pub joined_seq: u64,
    /// Whether the group-wide mute is on.
    pub mute_all: bool,
    /// What history the group shows new members.
    pub history_visible: HistoryVisible,
}

impl MemberState {
    /// Whether the member may send to the group at `now_ms`: not muted itself (the owner may
    /// mute an admin too), and not a plain member while the group is muted.
    pub fn may_speak(&self, now_ms: i64) -> bool {
        self.muted_until <= now_ms && (!self.mute_all || self.role.is_admin())
    }
}

/// A member of a group with its role, as the members list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserId,
    /// Its role.
    pub role: Role,
    /// Until when it is muted (milliseconds since the Unix epoch); 0 if it is not.
    pub muted_until: i64,
}

/// A user's request to join a group that takes members on approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The request's id.
    pub id: u64,
    /// The group.
    pub group: GroupId,
    /// The user who asks.
    pub user: UserId,
    /// Open, accepted or refused.
    pub status: RequestStatus,
}
