//! The conversations service through `Im`, with live connections: unread counts as users see
//! them (own messages, late joiners, muted, hidden), read positions moved by the socket and
//! the service, and read sync to a user's other connections but not the one that read.

use std::time::Duration;

use easyim_core::testkit::{memory_im, sign_up, Client};
use easyim_core::{
    ConversationPage, EngineConfig, Entity, Im, ImError, SettingsChange, SignedIn, UserId,
};
use easyim_proto::{ChatType, MsgStatus, MsgType};

fn im() -> Im {
    memory_im(EngineConfig::default())
}

async fn online(im: &Im, u: &SignedIn) -> Client {
    let mut c = Client::connect(im.engine()).with_wait(Duration::from_millis(300));
    c.login(u.profile.id, &u.access.token)
        .await
        .expect("logs in");
    c
}

async fn page(im: &Im, me: UserId) -> ConversationPage {
    im.conversations().list(me, None, 50).await.unwrap()
}

#[tokio::test]
async fn own_messages_late_joiners_and_read_sync() {
    let im = im();
    let (alice, bob, carol) = (
        sign_up(&im, "alice").await,
        sign_up(&im, "bob").await,
        sign_up(&im, "carol").await,
    );
    let (a, b, c) = (alice.profile.id, bob.profile.id, carol.profile.id);
    let g = im.groups().create(a, "g", &[b]).await.unwrap().id;
    let mut ca = online(&im, &alice).await;
    let mut cb1 = online(&im, &bob).await;
    let mut cb2 = online(&im, &bob).await;

    for (i, id) in ["g1", "g2", "g3"].iter().enumerate() {
        ca.send_acked(ca.text(g, ChatType::Group, id, i as u32 + 1, "hi"))
            .await
            .unwrap();
    }
    for cb in [&mut cb1, &mut cb2] {
        for id in ["g1", "g2", "g3"] {
            assert_eq!(cb.recv().await.unwrap().id, id);
        }
    }
    im.groups().invite(a, g, &[c]).await.unwrap();
    // The invitation is a group event, a NOTIFY message of the group stored after Carol's
    // join position: every member's connections get it, and it is the one thing she has
    // unread.
    for conn in [&mut ca, &mut cb1, &mut cb2] {
        let e = conn.recv().await.expect("the member_joined event");
        assert_eq!((e.msg_type, e.conv_seq), (MsgType::Notify as i32, 4));
    }
    let p = page(&im, c).await;
    assert_eq!(
        (p.items[0].unread(), p.total_unread),
        (1, 1),
        "a late joiner counts nothing before it, only the event of its join"
    );
    assert_eq!(
        p.items[0].last_message.as_ref().map(|m| m.msg_type),
        Some(MsgType::Notify as i32)
    );
    assert_eq!(
        page(&im, a).await.total_unread,
        0,
        "own messages (and own events) are never unread"
    );
    assert_eq!(page(&im, b).await.total_unread, 4);

    // A READ on one device: the sender gets the receipt, the other device the sync.
    cb1.send(cb1.receipt(g, ChatType::Group, "g2", MsgStatus::Read))
        .await
        .unwrap();
    let r = ca.recv().await.expect("the sender gets the receipt");
    assert_eq!(
        (r.id.as_str(), r.from_user_id.clone()),
        ("g2", b.to_string())
    );
    let s = cb2.recv().await.expect("the other device gets the sync");
    assert_eq!(
        (
            s.id.as_str(),
            s.status,
            s.from_user_id.clone(),
            s.to_user_id.clone(),
            s.conv_seq
        ),
        (
            "g2",
            MsgStatus::Read as i32,
            b.to_string(),
            g.to_string(),
            2
        )
    );
    assert!(cb1.recv().await.is_none(), "not the device that read");
    assert_eq!(page(&im, b).await.total_unread, 2);

    // The service's read: never back, and synced to every device.
    let r = im
        .conversations()
        .read(b, ChatType::Group, g, Some(1))
        .await
        .unwrap();
    assert_eq!((r.read_seq, r.unread()), (2, 2));
    assert!(
        cb2.recv().await.is_none(),
        "a read that moves nothing syncs nothing"
    );
    let r = im
        .conversations()
        .read(b, ChatType::Group, g, None)
        .await
        .unwrap();
    assert_eq!((r.read_seq, r.unread()), (4, 0));
    for cb in [&mut cb1, &mut cb2] {
        assert_eq!(cb.recv().await.unwrap().conv_seq, 4);
    }
    assert!(matches!(
        im.conversations()
            .read(b, ChatType::Group, g, Some(5))
            .await,
        Err(ImError::Invalid(_))
    ));
    assert!(matches!(
        im.conversations()
            .read(c, ChatType::Single, 999, None)
            .await,
        Err(ImError::NotFound(Entity::User))
    ));
    let outsider = sign_up(&im, "dave").await.profile.id;
    assert!(matches!(
        im.conversations()
            .read(outsider, ChatType::Group, g, None)
            .await,
        Err(ImError::Forbidden(_))
    ));
}

#[tokio::test]
async fn muted_hidden_and_pinned() {
    let im = im();
    let (alice, bob) = (sign_up(&im, "alice").await, sign_up(&im, "bob").await);
    let (a, b) = (alice.profile.id, bob.profile.id);
    let g = im.groups().create(a, "g", &[b]).await.unwrap().id;
    let mut ca = online(&im, &alice).await;
    ca.send_acked(ca.text(g, ChatType::Group, "g1", 1, "x"))
        .await
        .unwrap();
    ca.send_acked(ca.text(b, ChatType::Single, "d1", 2, "x"))
        .await
        .unwrap();
    assert_eq!(page(&im, b).await.total_unread, 2);

    let convs = im.conversations();
    let muted = SettingsChange {
        pinned: None,
        muted: Some(true),
    };
    let s = convs.settings(b, ChatType::Group, g, muted).await.unwrap();
    assert!(s.muted && !s.pinned);
    assert_eq!(
        page(&im, b).await.total_unread,
        1,
        "muted: out of the total"
    );
    let pin = SettingsChange {
        pinned: Some(true),
        muted: None,
    };
    convs.settings(b, ChatType::Group, g, pin).await.unwrap();
    assert_eq!(page(&im, b).await.items[0].peer, g, "pinned first");

    convs.hide(b, ChatType::Single, a).await.unwrap();
    let p = page(&im, b).await;
    assert_eq!((p.items.len(), p.total_unread), (1, 0), "hidden");
    ca.send_acked(ca.text(b, ChatType::Single, "d2", 3, "x"))
        .await
        .unwrap();
    let p = page(&im, b).await;
    assert_eq!(
        (p.items.len(), p.items[1].unread()),
        (2, 2),
        "back, nothing deleted"
    );
    assert!(matches!(
        convs
            .hide(a, ChatType::Single, sign_up(&im, "x").await.profile.id)
            .await,
        Err(ImError::NotFound(Entity::Conversation))
    ));
    assert!(matches!(
        convs.list(b, None, 0).await,
        Err(ImError::Invalid(_))
    ));
    assert!(matches!(
        convs.list(b, None, 201).await,
        Err(ImError::Invalid(_))
    ));
    let first = convs.list(b, None, 1).await.unwrap();
    assert_eq!(first.items.len(), 1);
    let rest = convs.list(b, first.next, 1).await.unwrap();
    assert_eq!((rest.items[0].peer, rest.next), (a, None));
    assert_eq!(convs.total_unread(b).await.unwrap(), 2);
}
