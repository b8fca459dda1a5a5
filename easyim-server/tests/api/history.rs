//! History.

use super::*;

async fn store(engine: &Engine, from: u64, to: u64, chat_type: ChatType, n: usize) {
    for i in 0..n {
        let out = engine
            .messages()
            .store_message(NewMessage {
                id: format!("m{from}-{i}"),
                from,
                to,
                chat_type,
                msg_type: 0,
                content: format!("c{i}"),
                timestamp: 1_700_000_000_000 + i as i64,
                ref_id: String::new(),
            })
            .await
            .unwrap();
        assert!(matches!(out, StoreOutcome::Stored { .. }), "{out:?}");
    }
}

fn seqs(data: &Value) -> Vec<u64> {
    data["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["conv_seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn history_pages() {
    let srv = Api::start().await;
    let a = srv.register("alice").await;
    let b = srv.register("bob").await;
    let c = srv.register("carol").await;
    let (ta, tb, tc) = (tok(&a), tok(&b), tok(&c));
    store(&srv.engine, id_of(&a), id_of(&b), ChatType::Single, 6).await;
    let q = |token: &str, extra: &str| {
        format!(
            "/api/messages?access_token={token}&chat_type=0&peer_id={}{extra}",
            a["id"].as_str().unwrap()
        )
    };

    let all = srv.get(&q(&tb, "")).await.data();
    assert_eq!(seqs(&all), [6, 5, 4, 3, 2, 1], "newest first by default");
    let first = &all["items"][5];
    assert_eq!(first["id"], format!("m{}-0", id_of(&a)));
    assert_eq!(first["from_user_id"], a["id"]);
    assert_eq!(first["to_user_id"], b["id"]);
    assert_eq!(first["chat_type"], 0);
    assert_eq!(first["content"], "c0");
    assert_eq!(first["status"], 1, "SENT: no receipt yet");
    assert_eq!(first["timestamp"], 1_700_000_000_000i64);
    assert!(first.get("access_token").is_none());

    assert_eq!(seqs(&srv.get(&q(&tb, "&limit=2")).await.data()), [6, 5]);
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&before_seq=5&limit=3")).await.data()),
        [4, 3, 2]
    );
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&after_seq=2&limit=3")).await.data()),
        [3, 4, 5]
    );
    assert_eq!(
        seqs(&srv.get(&q(&tb, "&after_seq=0")).await.data()),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(seqs(&srv.get(&q(&tb, "&limit=200")).await.data()).len(), 6);
    // The sender sees the same conversation.
    let peer_b = format!(
        "/api/messages?access_token={ta}&chat_type=0&peer_id={}&after_seq=5",
        b["id"].as_str().unwrap()
    );
    assert_eq!(seqs(&srv.get(&peer_b).await.data()), [6]);
    // Someone else's view of a with c is empty.
    assert!(seqs(&srv.get(&q(&tc, "")).await.data()).is_empty());

    // A receipt shows in the status.
    srv.engine
        .messages()
        .record_receipt(
            id_of(&b),
            Conversation::direct(id_of(&a), id_of(&b)),
            &format!("m{}-2", id_of(&a)),
            Receipt::Read,
        )
        .await
        .unwrap();
    let page = srv.get(&q(&tb, "&after_seq=2&limit=2")).await.data();
    assert_eq!(page["items"][0]["status"], 3, "READ");
    assert_eq!(page["items"][1]["status"], 1, "SENT");

    for bad in [
        "&limit=0",
        "&limit=201",
        "&limit=-1",
        "&limit=ten",
        "&before_seq=3&after_seq=1",
        "&before_seq=x",
    ] {
        srv.get(&q(&tb, bad)).await.envelope(400);
    }
    srv.get(&format!("/api/messages?access_token={tb}&peer_id=1"))
        .await
        .envelope(400);
    srv.get(&format!(
        "/api/messages?access_token={tb}&chat_type=2&peer_id=1"
    ))
    .await
    .envelope(400);
    srv.get(&format!("/api/messages?access_token={tb}&chat_type=0"))
        .await
        .envelope(400);
    srv.get(&format!(
        "/api/messages?access_token={tb}&chat_type=0&peer_id=999"
    ))
    .await
    .envelope(404);
    srv.get("/api/messages?chat_type=0&limit=0")
        .await
        .envelope(401);

    // Groups: members only.
    let gid = srv
        .post(
            "/api/group/create",
            json!({"access_token": ta, "name": "g", "member_ids": [b["id"]]}),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    store(&srv.engine, id_of(&a), gid, ChatType::Group, 3).await;
    let gq = |token: &str| format!("/api/messages?access_token={token}&chat_type=1&peer_id={gid}");
    let page = srv.get(&gq(&tb)).await.data();
    assert_eq!(seqs(&page), [3, 2, 1]);
    assert_eq!(page["items"][0]["chat_type"], 1);
    assert_eq!(page["items"][0]["to_user_id"], gid.to_string());
    srv.get(&gq(&tc)).await.envelope(403);
    srv.get(&format!(
        "/api/messages?access_token={tc}&chat_type=1&peer_id=4242"
    ))
    .await
    .envelope(404);
    // JSON body with numbers works the same.
    let r = srv
        .req(
            "GET",
            "/api/messages",
            &[("Content-Type", "application/json")],
            json!({"access_token": tb, "chat_type": 1, "peer_id": gid, "limit": 1})
                .to_string()
                .as_bytes(),
        )
        .await
        .data();
    assert_eq!(seqs(&r), [3]);
}
