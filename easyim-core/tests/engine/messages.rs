//! Messages, acks, delivery.

use super::*;

#[tokio::test(start_paused = true)]
async fn acks_carry_sent_id_timestamp_conv_seq_and_seq() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    let before = easyim_core::now_ms() as i64;
    for (i, seq) in [(1u64, 70u32), (2, 71), (3, 90)] {
        let mut m = ca.chat(b, ChatType::Single, &format!("c-{i}"), seq, "hi");
        // Clients cannot set what the server assigns, nor get their token back.
        m.access_token = "secret".into();
        m.timestamp = 1;
        m.conv_seq = 1000;
        let ack = ca.send_acked(m).await;
        assert_eq!(ack.conv_seq, i);
        assert!(ack.timestamp >= before, "{ack:?}");
        assert_eq!(ack.to_user_id, b.to_string());
        assert_eq!(ack.from_user_id, a.to_string());
        assert_eq!(ack.content, "hi");
        let d = cb.recv().await;
        assert_delivery(&d, a, "hi");
        assert_eq!(
            (d.id.clone(), d.conv_seq, d.timestamp),
            (ack.id, i, ack.timestamp)
        );
    }
    // An empty id gets a server snowflake.
    let ack = ca
        .send_acked(ca.chat(b, ChatType::Single, "", 91, "hi"))
        .await;
    assert!(ack.id.parse::<u64>().is_ok_and(|id| id > 0), "{ack:?}");
    assert_eq!(ack.conv_seq, 4);
    assert_eq!(cb.recv().await.id, ack.id);
    // The other direction continues the same conversation.
    let ack = cb
        .send_acked(cb.chat(a, ChatType::Single, "r", 1, "yo"))
        .await;
    assert_eq!(ack.conv_seq, 5);
    assert_eq!(ca.recv().await.conv_seq, 5);
}

#[tokio::test(start_paused = true)]
async fn a_resent_id_is_acked_again_and_not_delivered_twice() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let c = h.user().await;
    let group = h.group(a, &[b, c]).await;
    let mut cb = h.login(b).await;
    let mut ca = h.login(a).await;
    let mut cc = h.login(c).await;

    let first = ca
        .send_acked(ca.chat(b, ChatType::Single, "same", 1, "hi"))
        .await;
    cb.recv().await;
    let again = ca
        .send_acked(ca.chat(b, ChatType::Single, "same", 2, "hi again"))
        .await;
    assert_eq!(
        (&again.id, again.timestamp, again.conv_seq, &again.content),
        (&first.id, first.timestamp, first.conv_seq, &first.content)
    );
    assert_eq!(again.seq, 2);
    cb.expect_nothing().await;

    // Another sender reusing the id in the same conversation.
    cb.send(cb.chat(a, ChatType::Single, "same", 9, "mine"));
    cb.expect_error("E_BAD_MSG", "same", 9).await;
    ca.expect_nothing().await;
    // The same id in another conversation is fine.
    cc.send_acked(cc.chat(b, ChatType::Single, "same", 1, "other conv"))
        .await;
    assert_delivery(&cb.recv().await, c, "other conv");

    // Groups too.
    let g1 = ca
        .send_acked(ca.chat(group, ChatType::Group, "g", 3, "all"))
        .await;
    cb.recv().await;
    cc.recv().await;
    let g2 = ca
        .send_acked(ca.chat(group, ChatType::Group, "g", 4, "all"))
        .await;
    assert_eq!((g1.conv_seq, g1.timestamp), (g2.conv_seq, g2.timestamp));
    cc.send(cc.chat(group, ChatType::Group, "g", 1, "mine"));
    cc.expect_error("E_BAD_MSG", "g", 1).await;
    cb.expect_nothing().await;
    cc.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn delivery_reaches_every_device_but_the_sending_one() {
    let h = Harness::new();
    let a = h.user().await;
    let b = h.user().await;
    let mut a1 = h.login(a).await;
    let mut a2 = h.login(a).await;
    let mut b1 = h.login(b).await;
    let mut b2 = h.login(b).await;
    assert_eq!((h.engine.online(a), h.engine.online(b)), (2, 2));
    let ack = a1
        .send_acked(a1.chat(b, ChatType::Single, "m", 1, "hi"))
        .await;
    for c in [&mut b1, &mut b2, &mut a2] {
        let d = c.recv().await;
        assert_delivery(&d, a, "hi");
        assert_eq!((d.id.as_str(), d.conv_seq), ("m", ack.conv_seq));
        assert_eq!(d.to_user_id, b.to_string());
        assert_eq!(d.seq, 0, "the sender's seq is its own: {d:?}");
    }
    a1.expect_nothing().await;
    b1.expect_nothing().await;
}

#[tokio::test(start_paused = true)]
async fn a_group_message_reaches_every_member_but_the_sender() {
    let h = Harness::new();
    let owner = h.user().await;
    let members = [h.user().await, h.user().await, h.user().await];
    let outsider = h.user().await;
    let group = h.group(owner, &members).await;
    let mut sender = h.login(owner).await;
    let mut sender2 = h.login(owner).await;
    let mut conns = Vec::new();
    for &m in &members {
        conns.push(h.login(m).await);
    }
    let mut out = h.login(outsider).await;
    let ack = sender
        .send_acked(sender.chat(group, ChatType::Group, "g1", 1, "hello all"))
        .await;
    assert_eq!(ack.conv_seq, 1);
    for c in conns.iter_mut().chain([&mut sender2]) {
        let d = c.recv().await;
        assert_delivery(&d, owner, "hello all");
        assert_eq!(d.to_user_id, group.to_string());
        assert_eq!(d.chat_type, ChatType::Group as i32);
        assert_eq!(d.conv_seq, 1);
    }
    sender.expect_nothing().await;
    out.expect_nothing().await;
    // A member answers: the owner's two devices get it, the answering member does not.
    let answer = conns[0].chat(group, ChatType::Group, "g2", 1, "hi owner");
    let ack = conns[0].send_acked(answer).await;
    assert_eq!(ack.conv_seq, 2);
    let (first, rest) = conns.split_at_mut(1);
    for c in [&mut sender, &mut sender2]
        .into_iter()
        .chain(rest.iter_mut())
    {
        assert_eq!(c.recv().await.conv_seq, 2);
    }
    first[0].expect_nothing().await;
}
