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
}

impl EventKind {
    /// Every kind, in a fixed order (its bit in an [`crate::EventFilter`] is its index).
    pub const ALL: [EventKind; 7] = [
        EventKind::MessageCreated,
        EventKind::UserRegistered,
        EventKind::MessageOffline,
        EventKind::UserOnline,
        EventKind::UserOffline,
        EventKind::MessageRecalled,
        EventKind::MessageEdited,
    ];

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
        }
    }

    /// Its bit in an [`crate::EventFilter`].
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?} (known: message.created, message.recalled, message.edited, message.offline, user.registered, user.online, user.offline)")]
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
    }
}
