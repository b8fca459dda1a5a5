//! Senders and outsiders.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_sender_is_e_auth_kept_and_nothing_is_stored() {
    let (_dir, srv) = spawn_temp(&[]).await;
    let a = register(srv.api, "spoof-a").await;
    let b = register(srv.api, "spoof-b").await;
    let c = register(srv.api, "spoof-c").await;
    let mut ca = Client::login(srv.im, Kind::Lines, &a).await;
    let mut cc = Client::login(srv.im, Kind::Lines, &c).await;
    // A writes as B, to C.
    ca.send_json(&chat("spoof-1", b.uid(), c.uid(), 0))
        .await
        .unwrap();
    let v = ca.next_json().await.unwrap();
    assert!(is_error(&v, "E_AUTH"), "{v}");
    assert_eq!(field(&v, "id"), "spoof-1");
    // The connection stays and works; C got nothing; nothing was stored.
    assert!(ca.sync(a.uid(), "hb").await.is_empty());
    ca.send_json(&chat("real-1", a.uid(), c.uid(), 0))
        .await
        .unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    let got = cc.sync(c.uid(), "hb").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(field(&got[0], "id"), "real-1");
    assert!(history(srv.api, &c.token, 0, b.uid()).await.is_empty());
    assert_eq!(history(srv.api, &c.token, 0, a.uid()).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_cannot_write_to_read_or_list_a_group_or_read_others_chats() {
    let (_dir, srv) = spawn_temp(&[]).await;
    let a = register(srv.api, "out-a").await;
    let b = register(srv.api, "out-b").await;
    let c = register(srv.api, "out-c").await;
    let group: u64 = create_group(srv.api, &a, &[&b]).await.parse().unwrap();
    let mut ca = Client::login(srv.im, Kind::Lines, &a).await;
    let mut cb = Client::login(srv.im, Kind::Lines, &b).await;
    ca.send_json(&chat("g-1", a.uid(), group, 1)).await.unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    ca.send_json(&chat("d-1", a.uid(), b.uid(), 0))
        .await
        .unwrap();
    assert_eq!(num(&ca.next_json().await.unwrap(), "conv_seq"), 1);
    assert_eq!(cb.sync(b.uid(), "hb0").await.len(), 2);

    // C writes to the group: E_NOT_MEMBER, the connection stays, B gets nothing.
    let mut cc = Client::login(srv.im, Kind::Lines, &c).await;
    cc.send_json(&chat("intruder", c.uid(), group, 1))
        .await
        .unwrap();
    let v = cc.next_json().await.unwrap();
    assert!(is_error(&v, "E_NOT_MEMBER"), "{v}");
    assert!(cc.sync(c.uid(), "hb").await.is_empty(), "still connected");
    assert!(
        cb.sync(b.uid(), "hb1").await.is_empty(),
        "nothing delivered"
    );
    assert_eq!(history(srv.api, &a.token, 1, group).await.len(), 1);

    // C reads the group's history or its members: 403.
    for path in [
        format!(
            "/api/messages?access_token={}&chat_type=1&peer_id={group}&after_seq=0",
            c.token
        ),
        format!(
            "/api/group/members?access_token={}&group_id={group}",
            c.token
        ),
    ] {
        let (status, v) = http(srv.api, "GET", &path, None).await;
        assert_eq!(status, 403, "{path}: {v}");
    }
    // A 1:1 history always includes the caller: C asking for A or B sees its own (empty)
    // conversations, never A<->B.
    for peer in [a.uid(), b.uid()] {
        let items = history(srv.api, &c.token, 0, peer).await;
        assert!(items.is_empty(), "C sees {items:?}");
    }
    assert_eq!(history(srv.api, &b.token, 0, a.uid()).await.len(), 1);
}
