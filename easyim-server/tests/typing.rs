//! TYPING over real sockets (protocol.md section 4, "Typing"): forwarded at once to the other
//! side's online connections, never acked, stored or pending, one per second per sender and
//! conversation, not in groups over `TYPING_MAX_GROUP`; the usual errors for bad targets.

mod support;

use std::time::Duration;

use easyim_proto::{ChatType, Msg, MsgType};
use support::*;

fn typing(from: &User, to: &str, chat: ChatType, seq: u32) -> Msg {
    Msg {
        msg_type: MsgType::Typing as i32,
        id: String::new(),
        ..text(from, to, chat, "", seq, "")
    }
}

#[tokio::test]
async fn direct_typing_is_forwarded_throttled_and_never_kept() {
    let srv = start(&[]).await;
    let (a, b) = (srv.user("alice").await, srv.user("bob").await);
    let mut ca = Client::login(srv.im, Kind::FramedJson, &a).await;
    let mut b1 = Client::login(srv.im, Kind::FramedProto, &b).await;
    let mut b2 = Client::login(srv.im, Kind::WsText, &b).await;

    ca.send(&typing(&a, &b.id, ChatType::Single, 1)).await;
    // Never acked: the next answer of a's is its heartbeat's.
    ca.assert_alive(&a).await;
    for c in [&mut b1, &mut b2] {
        let t = c.recv().await;
        assert_eq!(
            (
                t.msg_type,
                t.from_user_id.as_str(),
                t.to_user_id.as_str(),
                t.conv_seq
            ),
            (MsgType::Typing as i32, a.id.as_str(), b.id.as_str(), 0),
            "{t:?}"
        );
        assert!(t.timestamp > 0);
    }

    // A second one within the second is dropped: the message sent after it comes first.
    ca.send(&typing(&a, &b.id, ChatType::Single, 2)).await;
    ca.send(&text(&a, &b.id, ChatType::Single, "m1", 3, "hi"))
        .await;
    assert_eq!(ca.recv().await.id, "m1");
    for c in [&mut b1, &mut b2] {
        assert_eq!(
            c.recv().await.id,
            "m1",
            "the throttled TYPING was not forwarded"
        );
    }
    // b's own typing to a is another key: not held back.
    b1.send(&typing(&b, &a.id, ChatType::Single, 1)).await;
    assert_eq!(ca.recv().await.msg_type, MsgType::Typing as i32);
    // After the second, a's goes through again.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    ca.send(&typing(&a, &b.id, ChatType::Single, 4)).await;
    assert_eq!(b2.recv().await.msg_type, MsgType::Typing as i32);

    // Nothing of it is stored or pending.
    drop((b1, b2));
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    ca.send(&typing(&a, &b.id, ChatType::Single, 5)).await;
    ca.assert_alive(&a).await;
    let ids: Vec<String> = history(srv.api, &a.token, 0, b.uid())
        .await
        .iter()
        .map(|v| field(v, "id"))
        .collect();
    assert_eq!(ids, ["m1"]);
    let mut b3 = Client::login(srv.im, Kind::Lines, &b).await;
    assert_eq!(b3.recv().await.id, "m1", "only the message is pending");
    b3.assert_alive(&b).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn typing_errors_and_groups() {
    let srv = start(&[("TYPING_MAX_GROUP", "3")]).await;
    let (a, b, c, d) = (
        srv.user("alice").await,
        srv.user("bob").await,
        srv.user("carol").await,
        srv.user("dave").await,
    );
    let small = create_group(srv.api, &a, &[&b, &c]).await;
    let big = create_group(srv.api, &a, &[&b, &c, &d]).await;
    let mut ca = Client::login(srv.im, Kind::FramedJson, &a).await;
    let mut cb = Client::login(srv.im, Kind::FramedProto, &b).await;
    let mut cc = Client::login(srv.im, Kind::Lines, &c).await;
    let mut cd = Client::login(srv.im, Kind::Lines, &d).await;

    // A group of 3: the other online members get it, the sender does not.
    ca.send(&typing(&a, &small, ChatType::Group, 1)).await;
    for cl in [&mut cb, &mut cc] {
        let t = cl.recv().await;
        assert_eq!(
            (t.msg_type, t.to_user_id.as_str(), t.chat_type),
            (
                MsgType::Typing as i32,
                small.as_str(),
                ChatType::Group as i32
            )
        );
    }
    ca.assert_alive(&a).await;
    // A group of 4 > TYPING_MAX_GROUP: nobody; the next frame d gets is a's message.
    ca.send(&typing(&a, &big, ChatType::Group, 2)).await;
    ca.send(&text(&a, &big, ChatType::Group, "g1", 3, "hi"))
        .await;
    assert_eq!(ca.recv().await.id, "g1");
    assert_eq!(cd.recv().await.id, "g1");

    // A non-member, an unknown group, an unknown user, oneself: errors, connection kept.
    cd.send(&typing(&d, &small, ChatType::Group, 4)).await;
    assert_error(&cd.recv().await, "E_NOT_MEMBER", "", 4);
    cd.send(&typing(&d, "4242", ChatType::Group, 5)).await;
    assert_error(&cd.recv().await, "E_NO_GROUP", "", 5);
    cd.send(&typing(&d, "4242", ChatType::Single, 6)).await;
    assert_error(&cd.recv().await, "E_NO_USER", "", 6);
    cd.send(&typing(&d, "x", ChatType::Single, 7)).await;
    assert_error(&cd.recv().await, "E_NO_USER", "", 7);
    cd.send(&typing(&d, &d.id, ChatType::Single, 8)).await;
    assert_error(&cd.recv().await, "E_BAD_MSG", "", 8);
    cd.assert_alive(&d).await;
    srv.shutdown().await;
}
