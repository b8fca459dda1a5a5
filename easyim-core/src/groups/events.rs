//! The group events: what a change to a group stores in its conversation, as the JSON
//! `content` of a NOTIFY message (docs/protocol.md lists them).

use serde::Serialize;

use crate::types::UserId;

/// One group event. `actor` is the user who made the change (also the message's
/// `from_user_id`); `targets` the users it is about. Ids are decimal strings, as everywhere in
/// the API.
#[derive(Debug, Serialize)]
pub(crate) struct Event<'a> {
    event: &'a str,
    actor: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl<'a> Event<'a> {
    /// The event `event` by `actor` about `targets`.
    pub(crate) fn new(event: &'a str, actor: UserId, targets: &[UserId]) -> Self {
        Event {
            event,
            actor: actor.to_string(),
            targets: targets.iter().map(u64::to_string).collect(),
            extra: serde_json::Map::new(),
        }
    }

    /// The same event with one more field.
    pub(crate) fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// The JSON text of the event.
    pub(crate) fn content(&self) -> String {
        // A map of strings, numbers and booleans always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}
