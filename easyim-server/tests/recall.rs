//! Recall, edit and reply over real sockets (protocol.md section 4, "Recall and edit"): the
//! frames stored, acked and delivered like messages, the target's state in history, the rules
//! and their error codes, and offline members catching up at login.

mod support;

use std::time::Duration;

use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};
use serde_json::Value;
use support::*;

/// A RECALL (empty content) or EDIT of `target` by `from`.
fn amend(kind: MsgType, from: &User, to: &str, chat: ChatType, id: &str, target: &str) -> Msg {
    let content = if kind == MsgType::Edit { "fixed" } else { "" };
    Msg {
        msg_type: kind as i32,
        ref_id: target.into(),
        ..text(from, to, chat, id, 0, content)
    }
}

fn find<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in history: {items:?}"))
}

#[tokio::test]
async fn edit_then_recall_a_direct_message_and_reply_to_it() {
    let srv = start(&[]).await;
    let (a, b) = (srv.user("alice").await, srv.user("bob").await);
    let mut ca = Client::login(srv.im, Kind::FramedJson, &a).await;
    let mut cb = Client::login(srv.im, Kind::FramedProto, &b).await;
    ca.send(&text(&a, &b.id, ChatType::Single, "m1", 1, "helo"))
        .await;
    assert_eq!(ca.recv().await.conv_seq, 1);
    assert_eq!(cb.recv().await.id, "m1");

    // b replies quoting m1: the reference is delivered and kept.
    let reply = Msg {
        ref_id: "m1".into(),
        ..text(&b, &a.id, ChatType::Single, "r1", 2, "what?")
    };
    cb.send(&reply).await;
    assert_eq!(cb.recv().await.ref_id, "m1", "the ack carries ref_id");
    let got = ca.recv().await;
    assert_eq!((got.id.as_str(), got.ref_id.as_str()), ("r1", "m1"));

    // a edits m1: acked with its own conv_seq, delivered to b.
    let mut edit = amend(MsgType::Edit, &a, &b.id, ChatType::Single, "e1", "m1");
    edit.seq = 3;
    ca.send(&edit).await;
    let ack = ca.recv().await;
    assert_eq!(
        (
            ack.id.as_str(),
            ack.seq,
            ack.status,
            ack.conv_seq,
            ack.msg_type
        ),
        ("e1", 3, MsgStatus::Sent as i32, 3, MsgType::Edit as i32)
    );
    let got = cb.recv().await;
    assert_eq!(
        (
            got.msg_type,
            got.ref_id.as_str(),
            got.content.as_str(),
            got.conv_seq
        ),
        (MsgType::Edit as i32, "m1", "fixed", 3)
    );
    let items = history(srv.api, &b.token, 0, a.uid()).await;
    let m1 = find(&items, "m1");
    assert_eq!(m1["content"], "fixed", "{m1}");
    assert!(m1["edited_at"].as_i64().unwrap() > 0, "{m1}");
    assert!(m1.get("recalled").is_none(), "{m1}");
    assert_eq!(find(&items, "r1")["ref_id"], "m1");
    assert_eq!(find(&items, "e1")["msg_type"], 7);

    // b may not recall or edit a's message; unknown targets are E_NO_MSG.
    let mut x = amend(MsgType::Recall, &b, &a.id, ChatType::Single, "bx", "m1");
    x.seq = 4;
    cb.send(&x).await;
    assert_error(&cb.recv().await, "E_FORBIDDEN", "bx", 4);
    let mut x = amend(MsgType::Edit, &b, &a.id, ChatType::Single, "be", "m1");
    x.seq = 5;
    cb.send(&x).await;
    assert_error(&cb.recv().await, "E_FORBIDDEN", "be", 5);
    let mut x = amend(MsgType::Recall, &a, &b.id, ChatType::Single, "ax", "nope");
    x.seq = 6;
    ca.send(&x).await;
    assert_error(&ca.recv().await, "E_NO_MSG", "ax", 6);
    let mut x = amend(MsgType::Recall, &a, &b.id, ChatType::Single, "", "");
    x.seq = 7;
    ca.send(&x).await;
    assert_error(&ca.recv().await, "E_BAD_MSG", "", 7);

    // a recalls m1; the resend is the same ack; recalling or editing it again is refused.
    let mut recall = amend(MsgType::Recall, &a, &b.id, ChatType::Single, "x1", "m1");
    recall.seq = 8;
    ca.send(&recall).await;
    let ack = ca.recv().await;
    assert_eq!((ack.id.as_str(), ack.conv_seq), ("x1", 4));
    let got = cb.recv().await;
    assert_eq!(
        (got.msg_type, got.ref_id.as_str(), got.content.as_str()),
        (MsgType::Recall as i32, "m1", "")
    );
    ca.send(&recall).await;
    assert_eq!(
        ca.recv().await.conv_seq,
        4,
        "a resend is acked again, not refused"
    );
    let mut again = amend(MsgType::Recall, &a, &b.id, ChatType::Single, "x2", "m1");
    again.seq = 9;
    ca.send(&again).await;
    assert_error(&ca.recv().await, "E_FORBIDDEN", "x2", 9);
    let mut late = amend(MsgType::Edit, &a, &b.id, ChatType::Single, "e2", "m1");
    late.seq = 10;
    ca.send(&late).await;
    assert_error(&ca.recv().await, "E_FORBIDDEN", "e2", 10);
    ca.assert_alive(&a).await;

    for token in [&a.token, &b.token] {
        let items = history(
            srv.api,
            token,
            0,
            if *token == a.token { b.uid() } else { a.uid() },
        )
        .await;
        let m1 = find(&items, "m1");
        assert_eq!(
            (m1["content"].as_str(), m1["recalled"].as_bool()),
            (Some(""), Some(true))
        );
        let seqs: Vec<u64> = items.iter().map(|v| num(v, "conv_seq")).collect();
        assert_eq!(seqs, [1, 2, 3, 4], "refused frames are not stored");
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn windows_bind_the_sender_not_the_group_owner() {
    let srv = start(&[("RECALL_WINDOW", "1"), ("EDIT_WINDOW", "1")]).await;
    let (a, b, c) = (
        srv.user("owner").await,
        srv.user("bob").await,
        srv.user("carol").await,
    );
    let g = create_group(srv.api, &a, &[&b, &c]).await;
    let mut cb = Client::login(srv.im, Kind::Lines, &b).await;
    cb.send(&text(&b, &g, ChatType::Group, "g1", 1, "one"))
        .await;
    cb.recv().await;
    cb.send(&text(&b, &g, ChatType::Group, "g2", 2, "two"))
        .await;
    cb.recv().await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let mut x = amend(MsgType::Recall, &b, &g, ChatType::Group, "bx", "g1");
    x.seq = 3;
    cb.send(&x).await;
    assert_error(&cb.recv().await, "E_FORBIDDEN", "bx", 3);
    let mut x = amend(MsgType::Edit, &b, &g, ChatType::Group, "be", "g1");
    x.seq = 4;
    cb.send(&x).await;
    assert_error(&cb.recv().await, "E_FORBIDDEN", "be", 4);
    // A member who is not the owner may not recall another's message (carol first gets the
    // two pending messages, which stay pending: she sends no receipt).
    let mut cc = Client::login(srv.im, Kind::WsText, &c).await;
    assert_eq!(
        (cc.recv().await.id, cc.recv().await.id),
        ("g1".into(), "g2".into())
    );
    let mut x = amend(MsgType::Recall, &c, &g, ChatType::Group, "cx", "g2");
    x.seq = 5;
    cc.send(&x).await;
    assert_error(&cc.recv().await, "E_FORBIDDEN", "cx", 5);
    drop(cc);

    // The owner may, at any time; carol, offline, gets everything at login in conv_seq order.
    let mut ca = Client::login(srv.im, Kind::FramedProto, &a).await;
    let mut x = amend(MsgType::Recall, &a, &g, ChatType::Group, "ax", "g1");
    x.seq = 6;
    ca.send(&x).await;
    let ack = loop {
        let m = ca.recv().await;
        if m.id == "ax" {
            break m;
        }
    };
    assert_eq!(ack.conv_seq, 3, "{ack:?}");
    let got = cb.recv().await;
    assert_eq!(
        (got.msg_type, got.ref_id.as_str()),
        (MsgType::Recall as i32, "g1")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut cc = Client::login(srv.im, Kind::FramedJson, &c).await;
    let replay: Vec<Msg> = vec![cc.recv().await, cc.recv().await, cc.recv().await];
    let got: Vec<(&str, u64, &str, bool)> = replay
        .iter()
        .map(|m| (m.id.as_str(), m.conv_seq, m.ref_id.as_str(), m.recalled))
        .collect();
    assert_eq!(
        got,
        [
            ("g1", 1, "", true),
            ("g2", 2, "", false),
            ("ax", 3, "g1", false)
        ],
        "the recalled message, then the rest, then the RECALL, in conv_seq order"
    );
    assert_eq!(replay[0].content, "", "a recalled message replays empty");

    // The conversation list: the RECALL is the last message, and counts as unread.
    let path = format!("/api/conversations?access_token={}", c.token);
    let (status, v) = http(srv.api, "GET", &path, None).await;
    assert_eq!(status, 200, "{v}");
    let entry = &v["data"]["items"][0];
    assert_eq!(entry["last_message"]["id"], "ax", "{entry}");
    assert_eq!(entry["last_message"]["msg_type"], 6, "{entry}");
    assert_eq!(entry["last_message"]["ref_id"], "g1", "{entry}");
    assert_eq!(num(entry, "unread"), 3, "{entry}");
    srv.shutdown().await;
}

#[tokio::test]
async fn an_admin_recalls_any_group_message_a_member_is_refused() {
    let srv = start(&[("RECALL_WINDOW", "1")]).await;
    let (a, b, c) = (
        srv.user("owner").await,
        srv.user("admin").await,
        srv.user("carol").await,
    );
    let g = create_group(srv.api, &a, &[&b, &c]).await;
    let role = serde_json::json!({"access_token": a.token, "group_id": g, "user_id": b.id,
                                  "role": "admin"});
    let (status, v) = http(srv.api, "POST", "/api/group/set_role", Some(&role)).await;
    assert_eq!(status, 200, "{v}");
    let mut ca = Client::login(srv.im, Kind::FramedJson, &a).await;
    let mut cc = Client::login(srv.im, Kind::FramedJson, &c).await;
    ca.send(&text(&a, &g, ChatType::Group, "o1", 1, "owner's"))
        .await;
    ca.recv().await;
    cc.send(&text(&c, &g, ChatType::Group, "c1", 1, "carol's"))
        .await;
    cc.recv().await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut cb = Client::login(srv.im, Kind::FramedProto, &b).await;
    // The admin's own view: skip what is pending for it (events and the two messages).
    let mut x = amend(MsgType::Recall, &b, &g, ChatType::Group, "bx1", "c1");
    x.seq = 1;
    cb.send(&x).await;
    let ack = loop {
        let m = cb.recv().await;
        if m.id == "bx1" {
            break m;
        }
    };
    assert_eq!(ack.status, MsgStatus::Sent as i32, "{ack:?}");
    let mut x = amend(MsgType::Recall, &b, &g, ChatType::Group, "bx2", "o1");
    x.seq = 2;
    cb.send(&x).await;
    assert_eq!(
        cb.recv().await.id,
        "bx2",
        "an admin may recall the owner's message"
    );
    // An admin may recall, not edit, another's message; a member may do neither.
    let mut x = amend(MsgType::Edit, &b, &g, ChatType::Group, "be", "o1");
    x.seq = 3;
    cb.send(&x).await;
    assert_error(&cb.recv().await, "E_FORBIDDEN", "be", 3);
    let mut cc_seen = Vec::new();
    let mut x = amend(MsgType::Recall, &c, &g, ChatType::Group, "cx", "o1");
    x.seq = 2;
    cc.send(&x).await;
    let err = loop {
        let m = cc.recv().await;
        if m.id == "cx" {
            break m;
        }
        if m.msg_type == MsgType::Recall as i32 {
            cc_seen.push((m.id, m.ref_id));
        }
    };
    assert_error(&err, "E_FORBIDDEN", "cx", 2);
    assert_eq!(
        cc_seen,
        [("bx1".into(), "c1".into()), ("bx2".into(), "o1".into())],
        "carol got both recalls live"
    );
    // A target of another conversation is E_NO_MSG, also for the owner.
    let mut x = amend(MsgType::Recall, &a, &c.id, ChatType::Single, "ax", "o1");
    x.seq = 2;
    ca.send(&x).await;
    let err = loop {
        let m = ca.recv().await;
        if m.id == "ax" {
            break m;
        }
    };
    assert_error(&err, "E_NO_MSG", "ax", 2);
    // A stranger is E_NOT_MEMBER, an unknown group E_NO_GROUP, whatever the target.
    let d = srv.user("dave").await;
    let mut cd = Client::login(srv.im, Kind::Lines, &d).await;
    let mut x = amend(MsgType::Recall, &d, &g, ChatType::Group, "dx", "o1");
    x.seq = 1;
    cd.send(&x).await;
    assert_error(&cd.recv().await, "E_NOT_MEMBER", "dx", 1);
    let mut x = amend(MsgType::Edit, &d, "12345", ChatType::Group, "dy", "o1");
    x.seq = 2;
    cd.send(&x).await;
    assert_error(&cd.recv().await, "E_NO_GROUP", "dy", 2);
    cd.assert_alive(&d).await;
    let items = history(srv.api, &c.token, 1, g.parse().unwrap()).await;
    for id in ["o1", "c1"] {
        assert_eq!(find(&items, id)["recalled"], true, "{id}: {items:?}");
    }
    // A group event (the role change) is not a chat message: not even the owner recalls it.
    let event = items
        .iter()
        .find(|v| v["msg_type"] == 5)
        .unwrap_or_else(|| panic!("no group event in {items:?}"));
    let mut x = amend(
        MsgType::Recall,
        &a,
        &g,
        ChatType::Group,
        "ae",
        &field(event, "id"),
    );
    x.seq = 3;
    ca.send(&x).await;
    let err = loop {
        let m = ca.recv().await;
        if m.id == "ae" {
            break m;
        }
    };
    assert_error(&err, "E_FORBIDDEN", "ae", 3);
    srv.shutdown().await;
}
