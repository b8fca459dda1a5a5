//! Messages.

use super::*;

#[tokio::test]
async fn one_to_one_ack_delivery_sync_and_receipts_across_transports() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a1 = Client::login(srv.im, Kind::FramedProto, &alice).await;
    let mut a2 = Client::login(srv.im, Kind::Lines, &alice).await;
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;

    let mut m = text(&alice, &bob.id, ChatType::Single, "c-1", 7, "hi bob");
    m.access_token = "ignored".into();
    m.timestamp = 42;
    m.conv_seq = 99;
    a1.send(&m).await;
    let ack = a1.recv().await;
    assert_eq!(ack.id, "c-1");
    assert_eq!(ack.seq, 7);
    assert_eq!(ack.status, MsgStatus::Sent as i32);
    assert_eq!(ack.conv_seq, 1);
    assert!(ack.timestamp > 1_600_000_000_000, "{ack:?}");
    assert!(ack.access_token.is_empty());
    assert_eq!(
        (ack.from_user_id.as_str(), ack.to_user_id.as_str()),
        (alice.id.as_str(), bob.id.as_str())
    );
    for c in [&mut b, &mut a2] {
        let d = c.recv().await;
        assert_eq!(
            (d.id.as_str(), d.content.as_str()),
            ("c-1", "hi bob"),
            "{d:?}"
        );
        assert_eq!(d.from_user_id, alice.id);
        assert_eq!(d.to_user_id, bob.id);
        assert_eq!(d.msg_type, MsgType::Text as i32);
        assert_eq!(d.status, MsgStatus::Sent as i32);
        assert_eq!((d.conv_seq, d.timestamp), (1, ack.timestamp));
        assert!(d.access_token.is_empty());
    }

    // An idempotent resend: the stored ack again, with the new seq, and no second delivery.
    let resend = text(&alice, &bob.id, ChatType::Single, "c-1", 8, "hi bob");
    a1.send(&resend).await;
    let ack2 = a1.recv().await;
    assert_eq!(
        (ack2.id.as_str(), ack2.seq, ack2.conv_seq, ack2.timestamp),
        ("c-1", 8, 1, ack.timestamp)
    );

    // An empty id: the server assigns one. Bob answers from another transport.
    a1.send(&text(&alice, &bob.id, ChatType::Single, "", 9, "second"))
        .await;
    let ack3 = a1.recv().await;
    assert_eq!((ack3.seq, ack3.conv_seq), (9, 2));
    assert!(
        !ack3.id.is_empty() && ack3.id.bytes().all(|c| c.is_ascii_digit()),
        "{ack3:?}"
    );
    let d = b.recv().await; // the next one for bob is this, not the resend
    assert_eq!((d.id.as_str(), d.conv_seq), (ack3.id.as_str(), 2));
    assert_eq!(a2.recv().await.id, ack3.id);

    // Receipts: forwarded to every connection of the sender, not acked to the reader.
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        &ack3.id,
        MsgStatus::Arrived,
    ))
    .await;
    for c in [&mut a1, &mut a2] {
        let r = c.recv().await;
        assert_eq!(r.id, ack3.id);
        assert_eq!(r.status, MsgStatus::Arrived as i32);
        assert_eq!(
            (r.from_user_id.as_str(), r.to_user_id.as_str()),
            (bob.id.as_str(), alice.id.as_str())
        );
        assert_eq!(r.chat_type, ChatType::Single as i32);
        assert!(r.timestamp > 0);
    }
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "c-1",
        MsgStatus::Read,
    ))
    .await;
    for c in [&mut a1, &mut a2] {
        let r = c.recv().await;
        assert_eq!((r.id.as_str(), r.status), ("c-1", MsgStatus::Read as i32));
    }
    b.assert_alive(&bob).await;

    // Bob writes back over WebSocket; alice gets it on both devices.
    b.send(&text(
        &bob,
        &alice.id,
        ChatType::Single,
        "b-1",
        1,
        "hi alice",
    ))
    .await;
    let ack = b.recv().await;
    assert_eq!((ack.id.as_str(), ack.conv_seq), ("b-1", 3));
    for c in [&mut a1, &mut a2] {
        let d = c.recv().await;
        assert_eq!((d.id.as_str(), d.content.as_str()), ("b-1", "hi alice"));
        assert_eq!(d.from_user_id, bob.id);
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn group_fan_out_and_receipts() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let group = create_group(srv.api, &alice, &[&bob, &carol]).await;
    let mut a = Client::login(srv.im, Kind::FramedJson, &alice).await;
    let mut b = Client::login(srv.im, Kind::WsBinary, &bob).await;
    let mut c = Client::login(srv.im, Kind::Lines, &carol).await;

    a.send(&text(
        &alice,
        &group,
        ChatType::Group,
        "g-1",
        1,
        "hello all",
    ))
    .await;
    let ack = a.recv().await;
    assert_eq!((ack.id.as_str(), ack.seq, ack.conv_seq), ("g-1", 1, 1));
    assert_eq!(ack.chat_type, ChatType::Group as i32);
    for (conn, _) in [(&mut b, &bob), (&mut c, &carol)] {
        let d = conn.recv().await;
        assert_eq!((d.id.as_str(), d.content.as_str()), ("g-1", "hello all"));
        assert_eq!(
            (d.from_user_id.as_str(), d.to_user_id.as_str()),
            (alice.id.as_str(), group.as_str())
        );
        assert_eq!((d.chat_type, d.conv_seq), (ChatType::Group as i32, 1));
    }
    // The sender's only connection gets no copy: its next answer is the heartbeat's.
    a.assert_alive(&alice).await;

    // Bob writes too: the same conversation, the next conv_seq.
    b.send(&text(&bob, &group, ChatType::Group, "g-2", 1, "hi"))
        .await;
    assert_eq!(b.recv().await.conv_seq, 2);
    assert_eq!(a.recv().await.id, "g-2");
    assert_eq!(c.recv().await.id, "g-2");

    // A group receipt reaches the original sender.
    c.send(&receipt(
        &carol,
        &group,
        ChatType::Group,
        "g-1",
        MsgStatus::Read,
    ))
    .await;
    let r = a.recv().await;
    assert_eq!(
        (r.id.as_str(), r.status, r.from_user_id.as_str()),
        ("g-1", MsgStatus::Read as i32, carol.id.as_str())
    );
    assert_eq!(r.chat_type, ChatType::Group as i32);
    c.assert_alive(&carol).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn pending_messages_are_delivered_at_the_next_login() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    for (i, id) in ["p-1", "p-2", "p-3"].iter().enumerate() {
        a.send(&text(
            &alice,
            &bob.id,
            ChatType::Single,
            id,
            i as u32,
            "while away",
        ))
        .await;
        assert_eq!(a.recv().await.conv_seq, i as u64 + 1);
    }
    // Bob logs in: SUCCESS, then the three, oldest first.
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;
    for (i, id) in ["p-1", "p-2", "p-3"].iter().enumerate() {
        let d = b.recv().await;
        assert_eq!((d.id.as_str(), d.conv_seq), (*id, i as u64 + 1));
    }
    // Not receipted: pushed again at the next login, on every connection.
    drop(b);
    let mut b = Client::login(srv.im, Kind::FramedJson, &bob).await;
    for id in ["p-1", "p-2", "p-3"] {
        assert_eq!(b.recv().await.id, id);
    }
    // A cumulative receipt for p-2 leaves only p-3 pending.
    b.send(&receipt(
        &bob,
        &alice.id,
        ChatType::Single,
        "p-2",
        MsgStatus::Arrived,
    ))
    .await;
    let r = a.recv().await;
    assert_eq!(
        (r.id.as_str(), r.status),
        ("p-2", MsgStatus::Arrived as i32)
    );
    let mut b2 = Client::login(srv.im, Kind::Lines, &bob).await;
    assert_eq!(b2.recv().await.id, "p-3");
    b2.assert_alive(&bob).await;
    srv.shutdown().await;
}
