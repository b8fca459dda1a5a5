//! The group events: what a change to a group stores in its conversation, as the JSON
//! `content` of a NOTIFY message (docs/protocol.md lists them), and reports to webhooks as a
//! `group.*` event (docs/webhooks.md).

use serde::Serialize;

use crate::events::{EventFilter, EventKind, NewEvent};
use crate::types::{Conversation, GroupId, UserId};

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

    /// The webhook event reporting this change to `group`, if `filter` wants its kind (one
    /// atomic load), else none: the event's fields and `group_id`, keyed by the group's
    /// conversation so that it is in order with the group's messages.
    pub(crate) fn outbox(&self, group: GroupId, filter: &EventFilter) -> Vec<NewEvent> {
        let Some(kind) = EventKind::of_group_event(self.event) else {
            debug_assert!(false, "group event {} has no kind", self.event);
            return Vec::new();
        };
        if !filter.wants(kind) {
            return Vec::new();
        }
        let mut data = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        data.insert("group_id".into(), group.to_string().into());
        vec![NewEvent {
            kind,
            key: Conversation::Group(group).key(),
            data: serde_json::Value::Object(data).to_string(),
            created_ms: crate::ids::now_ms() as i64,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_event_is_the_notify_event_with_the_group() {
        let filter = EventFilter::default();
        let event = Event::new("member_kicked", 1, &[2, 3]).with("x", 5);
        assert!(event.outbox(7, &filter).is_empty(), "not wanted: none");
        filter.set(&[EventKind::GroupMemberKicked]);
        let out = event.outbox(7, &filter);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, EventKind::GroupMemberKicked);
        assert_eq!(out[0].key, "g:7");
        let data: serde_json::Value = serde_json::from_str(&out[0].data).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"group_id": "7", "event": "member_kicked", "actor": "1",
                               "targets": ["2", "3"], "x": 5})
        );
        assert!(Event::new("group_muted", 1, &[])
            .outbox(7, &filter)
            .is_empty());
    }
}
