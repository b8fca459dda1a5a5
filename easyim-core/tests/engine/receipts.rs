//! Receipts and pending messages.

use super::*;

#[tokio::test(start_paused = true)]
async fn receipts_are_forwarded_to_the_senders_connections() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut cb = h.login(b).await;
    let mut cc = h.login(c).await;
    a1.send_acked(a1.chat(b, ChatType::Single, "m1", 1, "hi"))
        .await;
    a2.recv().await;
    cb.recv().await;

    let before = easyim_core::now_ms() as i64;
    for status in [MsgStatus::Arrived, MsgStatus::Read] {
        cb.send(cb.receipt(a, ChatType::Single, "m1", status));
        for c in [&mut a1, &mut a2] {
            let r = c.recv().await;
            assert_eq!(r.id, "m1");
            assert_eq!(r.status, status as i32);
            assert_eq!(r.from_user_id, b.to_string());
            assert_eq!(r.to_user_id, a.to_string());
            assert_eq!(r.chat_type, ChatType::Single as i32);
            assert_eq!(r.msg_type, MsgType::Text as i32);
            assert!(r.timestamp >= before, "{r:?}");
        }
        // Receipts are not acked.
        cb.expect_nothing().await;
    }

    // Group: forwarded to the original sender with the reader as from_user_id.
    a1.send_acked(a1.chat(group, ChatType::Group, "g1", 2, "all"))
        .await;
    a2.recv().await;
    cb.recv().await;
    cc.recv().await;
    cc.send(cc.receipt(group, ChatType::Group, "g1", MsgStatus::Read));
    for conn in [&mut a1, &mut a2] {
        let r = conn.recv().await;
        assert_eq!((r.id.as_str(), r.status), ("g1", MsgStatus::Read as i32));
        assert_eq!(r.from_user_id, c.to_string());
        assert_eq!(r.to_user_id, a.to_string());
        assert_eq!(r.chat_type, ChatType::Group as i32);
        assert!(r.timestamp > 0);
    }
    cb.expect_nothing().await;
    cc.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn pending_messages_are_replayed_at_login_until_receipted() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut ca = h.login(a).await;
    for i in 1..=4u32 {
        ca.send_acked(ca.chat(
            b,
            ChatType::Single,
            &format!("m{i}"),
            i,
            &format!("text {i}"),
        ))
        .await;
    }
    // b was offline: everything comes at login, oldest first, on every connection.
    let mut b1 = h.login(b).await;
    let mut b2 = h.login(b).await;
    for c in [&mut b1, &mut b2] {
        for i in 1..=4u64 {
            let d = c.recv().await;
            assert_delivery(&d, a, &format!("text {i}"));
            assert_eq!((d.id.clone(), d.conv_seq), (format!("m{i}"), i));
        }
        c.expect_nothing().await;
    }
    // Not receipted: again at the next login.
    b1.close();
    b1.expect_closed().await;
    let mut b3 = h.login(b).await;
    for i in 1..=4u64 {
        assert_eq!(b3.recv().await.conv_seq, i);
    }
    // A cumulative receipt for message 3 covers 1..3; 4 still comes.
    b3.send(b3.receipt(a, ChatType::Single, "m3", MsgStatus::Arrived));
    let r = ca.recv().await;
    assert_eq!((r.id.as_str(), r.status), ("m3", MsgStatus::Arrived as i32));
    let mut b4 = h.login(b).await;
    let d = b4.recv().await;
    assert_eq!((d.id.as_str(), d.conv_seq), ("m4", 4));
    b4.expect_nothing().await;
    // READ implies ARRIVED: nothing is pending after it.
    b4.send(b4.receipt(a, ChatType::Single, "m4", MsgStatus::Read));
    assert_eq!(ca.recv().await.status, MsgStatus::Read as i32);
    // B's other connections learn of the read (read sync), the reading one does not.
    for c in [&mut b2, &mut b3] {
        let s = c.recv().await;
        assert_eq!(
            (s.status, s.from_user_id.as_str(), s.id.as_str(), s.conv_seq),
            (MsgStatus::Read as i32, b.to_string().as_str(), "m4", 4)
        );
    }
    let mut b5 = h.login(b).await;
    b5.expect_nothing().await;
    // An older receipt does not move the cursor back.
    b5.send(b5.receipt(a, ChatType::Single, "m1", MsgStatus::Arrived));
    ca.recv().await;
    let mut b6 = h.login(b).await;
    b6.expect_nothing().await;
    // A new message is pending again, and only it.
    ca.send_acked(ca.chat(b, ChatType::Single, "m5", 5, "text 5"))
        .await;
    for c in [&mut b2, &mut b4, &mut b5, &mut b6] {
        assert_eq!(c.recv().await.conv_seq, 5);
    }
    let mut b7 = h.login(b).await;
    assert_eq!(b7.recv().await.id, "m5");
    b7.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn pending_group_messages_are_replayed_per_member() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut ca = h.login(a).await;
    for i in 1..=3u32 {
        ca.send_acked(ca.chat(group, ChatType::Group, &format!("g{i}"), i, "x"))
            .await;
    }
    let mut cb = h.login(b).await;
    for i in 1..=3u64 {
        assert_eq!(cb.recv().await.conv_seq, i);
    }
    cb.send(cb.receipt(group, ChatType::Group, "g2", MsgStatus::Read));
    ca.recv().await;
    // b's receipt does not cover c.
    let mut cc = h.login(c).await;
    for i in 1..=3u64 {
        assert_eq!(cc.recv().await.conv_seq, i);
    }
    let mut cb2 = h.login(b).await;
    assert_eq!(cb2.recv().await.conv_seq, 3);
    cb2.expect_nothing().await;
    // The sender's own messages are never pending for it.
    let mut ca2 = h.login(a).await;
    ca2.expect_nothing().await;
}
