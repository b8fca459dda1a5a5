//! [`EventKind`]: what an event reports, and its name on the wire.

use std::fmt;
use std::str::FromStr;

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A chat message was stored (`message.created`).
    MessageCreated,
    /// An account was created (`user.registered`).
    UserRegistered,
    /// A stored message's recipient had no live connection (`message.offline`).
    MessageOffline,
    /// A user's first connection on a node (`user.online`).
    UserOnline,
    /// A user's last connection on a node went (`user.offline`).
    UserOffline,
    /// A RECALL was stored and took back the message it names (`message.recalled`).
    MessageRecalled,
    /// An EDIT was stored and changed the message it names (`message.edited`).
    MessageEdited,
    /// A friend request was filed (`friend.requested`).
    FriendRequested,
    /// A friend request was accepted: both users are friends (`friend.accepted`).
    FriendAccepted,
    /// A friend request was refused (`friend.refused`).
    FriendRefused,
    /// A friendship was ended (`friend.removed`).
    FriendRemoved,
    /// A group was created with its first members (`group.created`).
    GroupCreated,
    /// Users became members of a group (`group.member_joined`).
    GroupMemberJoined,
    /// A member left a group (`group.member_left`).
    GroupMemberLeft,
    /// A member was removed from a group by its owner or an admin (`group.member_kicked`).
    GroupMemberKicked,
    /// A member was muted (`group.member_muted`).
    GroupMemberMuted,
    /// A member's mute was lifted (`group.member_unmuted`).
    GroupMemberUnmuted,
    /// The group-wide mute was turned on (`group.muted`).
    GroupMuted,
    /// The group-wide mute was turned off (`group.unmuted`).
    GroupUnmuted,
    /// A member became an admin or an admin a member (`group.role_changed`).
    GroupRoleChanged,
    /// The owner transferred the group (`group.owner_changed`).
    GroupOwnerChanged,
    /// The group's name, avatar, notice or policies changed (`group.updated`).
    GroupUpdated,
    /// The owner dismissed the group (`group.dismissed`).
    GroupDismissed,
    /// A user asked to join a group that takes members on approval (`group.join_requested`).
    GroupJoinRequested,
    /// An admin approved or refused a join request (`group.join_answered`).
    GroupJoinAnswered,
}

impl EventKind {
    /// Every kind, in a fixed order (its bit in an [`crate::EventFilter`] is its index).
    pub const ALL: [EventKind; 25] = [
        EventKind::MessageCreated,
        EventKind::UserRegistered,
        EventKind::MessageOffline,
        EventKind::UserOnline,
        EventKind::UserOffline,
        EventKind::MessageRecalled,
        EventKind::MessageEdited,
        EventKind::FriendRequested,
        EventKind::FriendAccepted,
        EventKind::FriendRefused,
        EventKind::FriendRemoved,
        EventKind::GroupCreated,
        EventKind::GroupMemberJoined,
        EventKind::GroupMemberLeft,
        EventKind::GroupMemberKicked,
        EventKind::GroupMemberMuted,
        EventKind::GroupMemberUnmuted,
        EventKind::GroupMuted,
        EventKind::GroupUnmuted,
        EventKind::GroupRoleChanged,
        EventKind::GroupOwnerChanged,
        EventKind::GroupUpdated,
        EventKind::GroupDismissed,
        EventKind::GroupJoinRequested,
        EventKind::GroupJoinAnswered,
    ];

    /// The families a `WEBHOOK_EVENTS` entry `<family>.*` selects all kinds of.
    pub const FAMILIES: [&'static str; 4] = ["message", "user", "friend", "group"];

    /// The kind of the event a stored message of `msg_type` is reported by: RECALL and EDIT
    /// have their own, every other message is `message.created`.
    pub fn of_message(msg_type: i32) -> EventKind {
        match msg_type {
            6 => EventKind::MessageRecalled,
            7 => EventKind::MessageEdited,
            _ => EventKind::MessageCreated,
        }
    }

    /// The name on the wire and in `WEBHOOK_EVENTS`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageCreated => "message.created",
            EventKind::UserRegistered => "user.registered",
            EventKind::MessageOffline => "message.offline",
            EventKind::UserOnline => "user.online",
            EventKind::UserOffline => "user.offline",
            EventKind::MessageRecalled => "message.recalled",
            EventKind::MessageEdited => "message.edited",
            EventKind::FriendRequested => "friend.requested",
            EventKind::FriendAccepted => "friend.accepted",
            EventKind::FriendRefused => "friend.refused",
            EventKind::FriendRemoved => "friend.removed",
            EventKind::GroupCreated => "group.created",
            EventKind::GroupMemberJoined => "group.member_joined",
            EventKind::GroupMemberLeft => "group.member_left",
            EventKind::GroupMemberKicked => "group.member_kicked",
            EventKind::GroupMemberMuted => "group.member_muted",
            EventKind::GroupMemberUnmuted => "group.member_unmuted",
            EventKind::GroupMuted => "group.muted",
            EventKind::GroupUnmuted => "group.unmuted",
            EventKind::GroupRoleChanged => "group.role_changed",
            EventKind::GroupOwnerChanged => "group.owner_changed",
            EventKind::GroupUpdated => "group.updated",
            EventKind::GroupDismissed => "group.dismissed",
            EventKind::GroupJoinRequested => "group.join_requested",
            EventKind::GroupJoinAnswered => "group.join_answered",
        }
    }

    /// The kind of group event `event` (its name in the group's NOTIFY message, as
    /// docs/protocol.md lists them: `member_joined`, `group_muted`...), if there is one.
    pub(crate) fn of_group_event(event: &str) -> Option<EventKind> {
        let name = event.strip_prefix("group_").unwrap_or(event);
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str().strip_prefix("group.") == Some(name))
    }

    /// The kinds `pattern` names: a kind's full name (`friend.accepted`), or every kind of a
    /// family with `<family>.*` (`group.*`).
    pub fn select(pattern: &str) -> Result<Vec<EventKind>, UnknownEventKind> {
        if let Some(family) = pattern.strip_suffix(".*") {
            if EventKind::FAMILIES.contains(&family) {
                return Ok(EventKind::ALL
                    .into_iter()
                    .filter(|k| k.family() == family)
                    .collect());
            }
            return Err(UnknownEventKind(pattern.to_owned()));
        }
        Ok(vec![pattern.parse()?])
    }

    /// The family of the kind: what its name has before the dot.
    pub fn family(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(family, _)| family)
    }

    /// Its bit in an [`crate::EventFilter`].
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

// A filter holds one bit per kind: widen it before a 33rd kind.
const _: () = assert!(EventKind::ALL.len() <= u32::BITS as usize);

/// Every name `WEBHOOK_EVENTS` takes, for the error that names an unknown one.
fn known_names() -> String {
    let mut names: Vec<String> = EventKind::ALL.iter().map(|k| k.as_str().into()).collect();
    names.extend(EventKind::FAMILIES.iter().map(|f| format!("{f}.*")));
    names.join(", ")
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?} (known: {known})", known = known_names())]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
        }
        assert_eq!(
            "message.nope".parse::<EventKind>(),
            Err(UnknownEventKind("message.nope".into()))
        );
        let bits: std::collections::HashSet<u32> = EventKind::ALL.iter().map(|k| k.bit()).collect();
        assert_eq!(bits.len(), EventKind::ALL.len(), "one bit per kind");
        let err = UnknownEventKind("x".into()).to_string();
        assert!(
            err.contains("group.join_answered") && err.contains("friend.*"),
            "the error lists what is known: {err}"
        );
    }

    #[test]
    fn families_select_their_kinds() {
        let friends = EventKind::select("friend.*").unwrap();
        assert_eq!(friends.len(), 4);
        assert!(friends.iter().all(|k| k.as_str().starts_with("friend.")));
        let groups = EventKind::select("group.*").unwrap();
        assert_eq!(groups.len(), 14);
        assert_eq!(
            EventKind::select("message.*").unwrap(),
            vec![
                EventKind::MessageCreated,
                EventKind::MessageOffline,
                EventKind::MessageRecalled,
                EventKind::MessageEdited
            ]
        );
        let every: usize = EventKind::FAMILIES
            .iter()
            .map(|f| EventKind::select(&format!("{f}.*")).unwrap().len())
            .sum();
        assert_eq!(every, EventKind::ALL.len(), "every kind is in one family");
        assert_eq!(
            EventKind::select("user.online").unwrap(),
            vec![EventKind::UserOnline]
        );
        assert!(EventKind::select("nope.*").is_err());
        assert!(EventKind::select("group.nope").is_err());
    }

    #[test]
    fn group_events_map_to_their_kinds() {
        for (event, kind) in [
            ("member_joined", EventKind::GroupMemberJoined),
            ("member_kicked", EventKind::GroupMemberKicked),
            ("group_muted", EventKind::GroupMuted),
            ("group_updated", EventKind::GroupUpdated),
            ("group_dismissed", EventKind::GroupDismissed),
            ("owner_changed", EventKind::GroupOwnerChanged),
            ("join_answered", EventKind::GroupJoinAnswered),
        ] {
            assert_eq!(EventKind::of_group_event(event), Some(kind), "{event}");
        }
        assert_eq!(EventKind::of_group_event("nope"), None);
    }
}
