//! The payloads of the single-event bus subjects: compact JSON, one object per event. A node
//! publishes batches (`batch.rs`) and reads these from nodes of earlier versions; a batch's
//! revoke and presence entries carry these same payloads.
//!
//! `deliver`: `{"node":1,"from":<instance>,"users":[..],"key":{"conv":{"group":7},"seq":42},"msg":{..}}`
//! (`key` absent for receipts and notices; `msg` in the JSON form of protocol.md section 1).
//! `revoke`: `{"node":1,"from":<instance>,"user":42}`.
//! `presence`: `{"node":1,"from":<instance>,"event":{..}}`, `event` one of
//! `{"presence":{"instance":..,"user":42,"online":true,"at":<ms>}}`,
//! `{"alive":{"instance":..,"resync":false}}`, `{"snapshot":{"instance":..,"users":[..]}}`
//! (`instance` the engine's own: its node id and start time).
//!
//! Readers ignore fields they do not know, so a field can be added without a new subject
//! version; a change of meaning takes a new prefix (`easyim.v2`).

use std::sync::Arc;

use bytes::Bytes;
use easyim_core::{BusEvent, Conversation, UserId};
use easyim_proto::{Encoded, Msg};
use serde::{Deserialize, Serialize};

/// Which subject an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Deliver,
    Revoke,
    Presence,
}

impl Kind {
    /// The kind of a subject's last token.
    pub(crate) fn from_token(token: &str) -> Option<Kind> {
        match token {
            "deliver" => Some(Kind::Deliver),
            "revoke" => Some(Kind::Revoke),
            "presence" => Some(Kind::Presence),
            _ => None,
        }
    }
}

/// Who published an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `DB_NODE_ID`, for the logs of the receiver.
    pub(crate) node: u16,
    /// Random per process: what a node compares to ignore its own events. `DB_NODE_ID` alone
    /// would not do: two nodes misconfigured with one node id would ignore each other.
    pub(crate) instance: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ConvWire {
    Direct([UserId; 2]),
    Group(u64),
}

#[derive(Serialize, Deserialize)]
struct KeyWire {
    conv: ConvWire,
    seq: u64,
}

#[derive(Serialize)]
struct DeliverOut<'a> {
    node: u16,
    from: u64,
    users: &'a [UserId],
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<KeyWire>,
    msg: &'a Msg,
}

#[derive(Deserialize)]
struct DeliverWire {
    node: u16,
    from: u64,
    users: Vec<UserId>,
    #[serde(default)]
    key: Option<KeyWire>,
    msg: Msg,
}

#[derive(Serialize, Deserialize)]
struct RevokeWire {
    node: u16,
    from: u64,
    user: UserId,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PresenceEventWire {
    Presence {
        instance: u64,
        user: UserId,
        online: bool,
        at: i64,
    },
    Alive {
        instance: u64,
        resync: bool,
    },
    Snapshot {
        instance: u64,
        users: Vec<UserId>,
    },
}

#[derive(Serialize, Deserialize)]
struct PresenceWire {
    node: u16,
    from: u64,
    event: PresenceEventWire,
}

/// The subject kind and payload of `event`.
pub(crate) fn encode(event: &BusEvent, origin: Origin) -> (Kind, Bytes) {
    let (kind, json) = match event {
        BusEvent::Deliver { users, frame, key } => (
            Kind::Deliver,
            serde_json::to_vec(&DeliverOut {
                node: origin.node,
                from: origin.instance,
                users,
                key: key.map(|(conv, seq)| KeyWire {
                    conv: match conv {
                        Conversation::Direct { low, high } => ConvWire::Direct([low, high]),
                        Conversation::Group(g) => ConvWire::Group(g),
                    },
                    seq,
                }),
                msg: frame.msg(),
            }),
        ),
        BusEvent::Revoke { user } => (
            Kind::Revoke,
            serde_json::to_vec(&RevokeWire {
                node: origin.node,
                from: origin.instance,
                user: *user,
            }),
        ),
        BusEvent::Presence {
            instance,
            user,
            online,
            at,
        } => presence(
            origin,
            PresenceEventWire::Presence {
                instance: *instance,
                user: *user,
                online: *online,
                at: *at,
            },
        ),
        BusEvent::Alive { instance, resync } => presence(
            origin,
            PresenceEventWire::Alive {
                instance: *instance,
                resync: *resync,
            },
        ),
        BusEvent::Snapshot { instance, users } => presence(
            origin,
            PresenceEventWire::Snapshot {
                instance: *instance,
                users: users.clone(),
            },
        ),
    };
    // Plain structs of numbers and strings: serializing them cannot fail.
    (kind, Bytes::from(json.unwrap_or_default()))
}

fn presence(origin: Origin, event: PresenceEventWire) -> (Kind, serde_json::Result<Vec<u8>>) {
    (
        Kind::Presence,
        serde_json::to_vec(&PresenceWire {
            node: origin.node,
            from: origin.instance,
            event,
        }),
    )
}

/// Reads a payload of subject `kind`.
pub(crate) fn decode(kind: Kind, payload: &[u8]) -> serde_json::Result<(Origin, BusEvent)> {
    Ok(match kind {
        Kind::Deliver => {
            let w: DeliverWire = serde_json::from_slice(payload)?;
            let key = w.key.map(|k| {
                let conv = match k.conv {
                    ConvWire::Direct([a, b]) => Conversation::direct(a, b),
                    ConvWire::Group(g) => Conversation::Group(g),
                };
                (conv, k.seq)
            });
            (
                Origin {
                    node: w.node,
                    instance: w.from,
                },
                BusEvent::Deliver {
                    users: w.users,
                    frame: Arc::new(Encoded::new(w.msg)),
                    key,
                },
            )
        }
        Kind::Revoke => {
            let w: RevokeWire = serde_json::from_slice(payload)?;
            (
                Origin {
                    node: w.node,
                    instance: w.from,
                },
                BusEvent::Revoke { user: w.user },
            )
        }
        Kind::Presence => {
            let w: PresenceWire = serde_json::from_slice(payload)?;
            let event = match w.event {
                PresenceEventWire::Presence {
                    instance,
                    user,
                    online,
                    at,
                } => BusEvent::Presence {
                    instance,
                    user,
                    online,
                    at,
                },
                PresenceEventWire::Alive { instance, resync } => {
                    BusEvent::Alive { instance, resync }
                }
                PresenceEventWire::Snapshot { instance, users } => {
                    BusEvent::Snapshot { instance, users }
                }
            };
            (
                Origin {
                    node: w.node,
                    instance: w.from,
                },
                event,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Origin = Origin {
        node: 3,
        instance: 0xdead_beef,
    };

    fn round_trip(event: BusEvent) {
        let (kind, bytes) = encode(&event, ORIGIN);
        let (origin, back) = decode(kind, &bytes).unwrap();
        assert_eq!(origin, ORIGIN);
        assert_eq!(back, event);
    }

    #[test]
    fn events_round_trip() {
        let msg = Msg {
            id: "m-1".into(),
            from_user_id: "10".into(),
            to_user_id: "7".into(),
            chat_type: 1,
            status: 1,
            content: "héllo \"there\"\n".into(),
            timestamp: 1_700_000_000_000,
            conv_seq: u64::MAX,
            ..Msg::default()
        };
        round_trip(BusEvent::Deliver {
            users: vec![1, 2, u64::MAX],
            frame: Arc::new(Encoded::new(msg.clone())),
            key: Some((Conversation::Group(7), 42)),
        });
        round_trip(BusEvent::Deliver {
            users: vec![5],
            frame: Arc::new(Encoded::new(msg.clone())),
            key: Some((Conversation::direct(9, 4), 1)),
        });
        round_trip(BusEvent::Deliver {
            users: vec![],
            frame: Arc::new(Encoded::new(msg)),
            key: None,
        });
        round_trip(BusEvent::Revoke { user: 77 });
        round_trip(BusEvent::Presence {
            instance: 5,
            user: 77,
            online: true,
            at: 1_700_000_000_000,
        });
        round_trip(BusEvent::Alive {
            instance: 5,
            resync: true,
        });
        round_trip(BusEvent::Snapshot {
            instance: 5,
            users: vec![1, 2, 3],
        });
    }

    #[test]
    fn the_payload_is_the_documented_json() {
        let (kind, bytes) = encode(
            &BusEvent::Deliver {
                users: vec![1],
                frame: Arc::new(Encoded::new(Msg::default())),
                key: Some((Conversation::direct(2, 1), 5)),
            },
            ORIGIN,
        );
        assert_eq!(kind, Kind::Deliver);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["node"], 3);
        assert_eq!(v["key"]["conv"]["direct"], serde_json::json!([1, 2]));
        assert_eq!(v["key"]["seq"], 5);
        let (kind, bytes) = encode(&BusEvent::Revoke { user: 9 }, ORIGIN);
        assert_eq!(kind, Kind::Revoke);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"node":3,"from":3735928559,"user":9}"#
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_garbage_is_an_error() {
        let (_, ev) = decode(
            Kind::Revoke,
            br#"{"node":1,"from":2,"user":3,"reason":"later"}"#,
        )
        .unwrap();
        assert_eq!(ev, BusEvent::Revoke { user: 3 });
        assert!(decode(Kind::Deliver, b"{\"node\":1").is_err());
        assert!(decode(Kind::Revoke, b"[]").is_err());
        assert_eq!(Kind::from_token("deliver"), Some(Kind::Deliver));
        assert_eq!(Kind::from_token("other"), None);
    }
}
