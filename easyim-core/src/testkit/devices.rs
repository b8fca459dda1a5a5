//! The checks of [`DeviceStore`]: register, refresh, move, remove, the cap.

use std::sync::Arc;

use futures::future::join_all;

use super::support::{add_user, expect_err, ok};
use crate::error::{Entity, StorageError};
use crate::storage::{AccountStore, DeviceStore};
use crate::types::Device;

fn device(platform: &str, token: &str, at: i64) -> Device {
    Device {
        platform: platform.to_owned(),
        token: token.to_owned(),
        updated_at: at,
    }
}

fn tokens(list: &[Device]) -> Vec<&str> {
    list.iter().map(|d| d.token.as_str()).collect()
}

/// Devices: `add_device` stores, refreshes a token already there, moves a token from another
/// user, refuses past `max` (changing nothing), answers `NotFound(User)` for an unknown user;
/// `remove_device` removes only the user's own; `devices` in `updated_at` order; concurrent
/// adds never pass the cap.
pub async fn check_devices<S: AccountStore + DeviceStore + ?Sized>(s: Arc<S>) {
    let st = &*s;
    add_user(st, 1, "alice").await;
    add_user(st, 2, "bob").await;
    add_user(st, 3, "carol").await;
    assert!(
        ok(st.devices(1).await, "devices").is_empty(),
        "no devices at first"
    );
    assert!(ok(
        st.add_device(1, &device("apns", "t-a", 20), 3).await,
        "add"
    ));
    assert!(ok(
        st.add_device(1, &device("fcm", "t-b", 10), 3).await,
        "add"
    ));
    assert_eq!(
        ok(st.devices(1).await, "devices"),
        vec![device("fcm", "t-b", 10), device("apns", "t-a", 20)],
        "devices in updated_at order"
    );
    // Registered again: platform and time replaced, still one device.
    assert!(ok(
        st.add_device(1, &device("web", "t-b", 30), 3).await,
        "re-add"
    ));
    assert_eq!(
        ok(st.devices(1).await, "devices"),
        vec![device("apns", "t-a", 20), device("web", "t-b", 30)],
        "a token registered again replaces its platform and time"
    );
    // The cap: a third fits, a fourth does not, and changes nothing; a known one still does.
    assert!(ok(
        st.add_device(1, &device("fcm", "t-c", 40), 3).await,
        "third"
    ));
    assert!(
        !ok(
            st.add_device(1, &device("fcm", "t-d", 50), 3).await,
            "fourth"
        ),
        "add_device past max must answer false"
    );
    assert_eq!(
        tokens(&ok(st.devices(1).await, "devices")),
        ["t-a", "t-b", "t-c"]
    );
    assert!(
        ok(
            st.add_device(1, &device("fcm", "t-a", 60), 3).await,
            "known at cap"
        ),
        "a token the user has already must be refreshed even at the cap"
    );
    // The device changes hands: the token moves from alice to bob.
    assert!(ok(
        st.add_device(2, &device("apns", "t-c", 70), 3).await,
        "move"
    ));
    assert_eq!(tokens(&ok(st.devices(1).await, "devices")), ["t-b", "t-a"]);
    assert_eq!(tokens(&ok(st.devices(2).await, "devices")), ["t-c"]);
    // Removal: only one's own.
    assert!(
        !ok(st.remove_device(1, "t-c").await, "remove other's"),
        "remove_device of another user's token must answer false"
    );
    assert_eq!(tokens(&ok(st.devices(2).await, "devices")), ["t-c"]);
    assert!(ok(st.remove_device(1, "t-a").await, "remove"));
    assert!(!ok(st.remove_device(1, "t-a").await, "remove twice"));
    assert_eq!(tokens(&ok(st.devices(1).await, "devices")), ["t-b"]);
    expect_err(
        st.add_device(99, &device("fcm", "t-x", 1), 3).await,
        StorageError::NotFound(Entity::User),
        "add_device for an unknown user",
    );
    assert!(ok(st.devices(99).await, "devices of nobody").is_empty());
    // Concurrent adds never pass the cap.
    let adds = (0..8).map(|i| {
        let d = device("fcm", &format!("c-{i}"), 100 + i);
        async move { st.add_device(3, &d, 4).await }
    });
    let added = join_all(adds)
        .await
        .into_iter()
        .map(|r| ok(r, "concurrent add"))
        .filter(|&b| b)
        .count();
    assert_eq!(
        added, 4,
        "of 8 concurrent adds under max 4, exactly 4 succeed"
    );
    assert_eq!(ok(st.devices(3).await, "devices").len(), 4);
}
