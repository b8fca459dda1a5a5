//! Restart.

use super::*;

#[tokio::test]
async fn restart_keeps_accounts_history_and_pending() {
    let srv = start(&[]).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    for (i, id) in ["r-1", "r-2"].iter().enumerate() {
        a.send(&text(
            &alice,
            &bob.id,
            ChatType::Single,
            id,
            i as u32,
            "kept",
        ))
        .await;
        assert_eq!(a.recv().await.conv_seq, i as u64 + 1);
    }
    let dir = srv.shutdown().await;
    drop(a);

    let srv = start_in(dir, &[]).await;
    // Accounts and tokens survive; so does the password.
    let (status, body) = http(
        srv.api,
        "POST",
        "/api/user/login",
        Some(&json!({"account": "bob", "password": "pw-123456"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"].as_str(), Some(bob.id.as_str()));
    let (status, _) = http(
        srv.api,
        "POST",
        "/api/user/register",
        Some(&json!({"account": "alice", "password": "x"})),
    )
    .await;
    assert_eq!(status, 409);
    // Pending messages reach bob.
    let mut b = Client::login(srv.im, Kind::WsText, &bob).await;
    assert_eq!(b.recv().await.id, "r-1");
    assert_eq!(b.recv().await.id, "r-2");
    // History, and conv_seq goes on from where it was.
    let path = format!(
        "/api/messages?access_token={}&chat_type=0&peer_id={}&after_seq=0",
        alice.token, bob.id
    );
    let (status, body) = http(srv.api, "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r-1", "r-2"]);
    let mut a = Client::login(srv.im, Kind::FramedProto, &alice).await;
    a.send(&text(&alice, &bob.id, ChatType::Single, "r-3", 3, "after"))
        .await;
    assert_eq!(a.recv().await.conv_seq, 3);
    assert_eq!(b.recv().await.id, "r-3");
    // An idempotent resend of a message stored before the restart.
    a.send(&text(&alice, &bob.id, ChatType::Single, "r-1", 4, "kept"))
        .await;
    assert_eq!(a.recv().await.conv_seq, 1);
    srv.shutdown().await;
}
