//! Transports.

use super::*;

#[tokio::test]
async fn every_transport_logs_in_and_heartbeats() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    for kind in [
        Kind::FramedProto,
        Kind::FramedJson,
        Kind::Lines,
        Kind::WsText,
        Kind::WsBinary,
    ] {
        let mut c = Client::login(srv.im, kind, &u).await;
        c.send(&heartbeat(&u, 5)).await;
        let m = c.recv().await;
        assert_success(&m, &u);
        assert_eq!((m.id.as_str(), m.seq), ("hb-5", 5), "{kind:?}");
        assert!(m.access_token.is_empty());
    }
    // WebSocket on any path of the IM port, and on the API port.
    for (addr, path) in [
        (srv.im, "/some/where?x=1"),
        (srv.api, "/"),
        (srv.api, "/ws"),
    ] {
        for kind in [Kind::WsText, Kind::WsBinary] {
            let mut c = Client::connect_path(addr, kind, path).await;
            c.send(&login_msg(&u)).await;
            assert_success(&c.recv().await, &u);
            c.assert_alive(&u).await;
        }
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn framed_answers_in_the_first_frames_format() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    // First frame JSON: a later protobuf frame is still answered in JSON.
    let mut c = Client::login(srv.im, Kind::FramedJson, &u).await;
    c.send_frame(&protobuf(&heartbeat(&u, 2))).await;
    let m = c.recv().await; // `recv` checks the answer is JSON
    assert_success(&m, &u);
    assert_eq!(m.seq, 2);
    // And the other way round.
    let mut c = Client::login(srv.im, Kind::FramedProto, &u).await;
    c.send_frame(&json_bytes(&heartbeat(&u, 3))).await;
    let m = c.recv().await;
    assert_success(&m, &u);
    assert_eq!(m.seq, 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn json_lines_accept_lf_and_crlf_and_enum_names() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    let mut c = Client::connect(srv.im, Kind::Lines).await;
    // The login as the original documents it, `\n` terminated, enum by name.
    let line = format!(
        "{{\"msg_type\":\"EVENT\",\"to_user_id\":\"KEEP_ALIVE\",\"from_user_id\":\"{}\",\
         \"access_token\":\"{}\",\"content\":\"1.2.3.4\",\"seq\":4}}\n",
        u.id, u.token
    );
    c.send_raw(line.as_bytes()).await;
    let m = c.recv().await;
    assert_success(&m, &u);
    assert_eq!(m.seq, 4);
    // `\r\n` (what `send` uses), and a line split across writes.
    let hb = json_bytes(&heartbeat(&u, 6));
    c.send_raw(&hb[..5]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send_raw(&hb[5..]).await;
    c.send_raw(b"\r\n").await;
    assert_eq!(c.recv().await.seq, 6);
    c.assert_alive(&u).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn websocket_answers_in_the_kind_last_used_and_pongs() {
    let srv = start(&[]).await;
    let u = srv.user("alice").await;
    let mut c = Client::login(srv.im, Kind::WsText, &u).await;
    c.send_ws(WsMessage::Ping(b"are you there".to_vec().into()))
        .await;
    match c.recv_ws_raw().await {
        WsMessage::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // A binary heartbeat is answered in binary, then text again.
    c.send_ws(WsMessage::binary(protobuf(&heartbeat(&u, 8))))
        .await;
    c.kind = Kind::WsBinary;
    assert_eq!(c.recv().await.seq, 8);
    c.kind = Kind::WsText;
    c.assert_alive(&u).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn http_api_on_the_im_port() {
    let srv = start(&[]).await;
    let u = register(srv.im, "via-im-port").await;
    let (status, body) = http(srv.im, "GET", "/healthz", None).await;
    assert_eq!((status, body["data"]["status"].as_str()), (200, Some("ok")));
    let (status, body) = http(srv.im, "GET", "/no/such/route", None).await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(404)));
    // The account made on the IM port logs in there too.
    let mut c = Client::login(srv.im, Kind::FramedProto, &u).await;
    c.assert_alive(&u).await;
    srv.shutdown().await;
}
