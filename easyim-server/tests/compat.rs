//! The original easyim's clients keep working (protocol.md section 2, http-api.md): raw
//! protobuf on the IM port, JSON objects without newlines, JSON in binary WebSocket frames,
//! and `API_ALWAYS_200`.

mod support;

use std::net::SocketAddr;

use easyim_proto::{decode_as, ChatType, Format, Msg, MsgStatus};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A client as the original's: raw protobuf, one message per write, one per read.
struct RawClient {
    s: TcpStream,
}

impl RawClient {
    async fn connect(addr: SocketAddr) -> RawClient {
        RawClient {
            s: TcpStream::connect(addr).await.unwrap(),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    async fn send(&mut self, m: &Msg) {
        self.write(&protobuf(m)).await;
    }

    /// One read, decoded as one message (as the original's clients read); `None` at the end.
    async fn recv_opt(&mut self) -> Option<Msg> {
        let mut buf = vec![0u8; 65536];
        let n = tokio::time::timeout(WAIT, self.s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        (n > 0).then(|| {
            decode_as(&buf[..n], Format::Protobuf).expect("one raw protobuf message per read")
        })
    }

    async fn recv(&mut self) -> Msg {
        self.recv_opt().await.expect("a message, not the end")
    }
}

/// The example message of the original's README, as its protobuf encoding starts: `0a 13 31 36`.
fn readme_example() -> Msg {
    Msg {
        id: "1630392697653039104".into(),
        seq: 0,
        from_user_id: "1630381388895096832".into(),
        to_user_id: "1630381388895666666".into(),
        chat_type: 0,
        msg_type: 0,
        status: 1,
        content: "hello word.can you received ?".into(),
        access_token: "aa.bbb.cc".into(),
        ..Msg::default()
    }
}

#[tokio::test]
async fn the_readme_example_is_read_as_raw_protobuf_not_as_a_length() {
    let srv = start(&[]).await;
    let bytes = protobuf(&readme_example());
    assert_eq!(&bytes[..4], &[0x0a, 0x13, 0x31, 0x36]);
    let mut c = RawClient::connect(srv.im).await;
    c.write(&bytes).await;
    // Decoded: it is a chat message, not a login, so E_FIRST_MSG (not E_TOO_LARGE), raw.
    let m = c.recv().await;
    assert_error(&m, "E_FIRST_MSG", "1630392697653039104", 0);
    assert!(c.recv_opt().await.is_none(), "closed after E_FIRST_MSG");
}

#[tokio::test]
async fn raw_login_send_ack_delivery_with_framed_and_websocket_peers() {
    let srv = start(&[]).await;
    let (a, b, w) = (
        srv.user("raw").await,
        srv.user("framed").await,
        srv.user("ws").await,
    );
    let mut raw = RawClient::connect(srv.im).await;
    raw.send(&login_msg(&a)).await;
    let m = raw.recv().await;
    assert_success(&m, &a);
    let mut framed = Client::login(srv.im, Kind::FramedProto, &b).await;
    let mut ws = Client::login(srv.im, Kind::WsBinary, &w).await;

    // raw -> framed: ack to the raw client, delivery to the framed one.
    raw.send(&text(&a, &b.id, ChatType::Single, "r1", 1, "hello framed"))
        .await;
    let ack = raw.recv().await;
    assert_eq!(
        (ack.id.as_str(), ack.seq, ack.status),
        ("r1", 1, MsgStatus::Sent as i32)
    );
    let got = framed.recv().await;
    assert_eq!(
        (got.id.as_str(), got.content.as_str()),
        ("r1", "hello framed")
    );
    assert_eq!(got.from_user_id, a.id);

    // framed -> raw and websocket -> raw: each delivery is one raw message per read.
    framed
        .send(&text(&b, &a.id, ChatType::Single, "f1", 1, "hello raw"))
        .await;
    assert_eq!(framed.recv().await.id, "f1");
    let got = raw.recv().await;
    assert_eq!((got.id.as_str(), got.content.as_str()), ("f1", "hello raw"));
    ws.send(&text(&w, &a.id, ChatType::Single, "w1", 1, "hello from ws"))
        .await;
    assert_eq!(ws.recv().await.id, "w1");
    let got = raw.recv().await;
    assert_eq!(
        (got.id.as_str(), got.from_user_id.as_str()),
        ("w1", w.id.as_str())
    );

    // The raw client's receipt reaches the sender.
    raw.send(&receipt(&a, &b.id, ChatType::Single, "f1", MsgStatus::Read))
        .await;
    let r = framed.recv().await;
    assert_eq!((r.id.as_str(), r.status), ("f1", MsgStatus::Read as i32));
    // And a heartbeat is answered raw.
    raw.send(&heartbeat(&a, 7)).await;
    let m = raw.recv().await;
    assert_success(&m, &a);
    assert_eq!(m.seq, 7);
}

#[tokio::test]
async fn raw_bytes_as_dart_writes_them_and_a_message_cut_in_two_reads() {
    let srv = start(&[]).await;
    let a = srv.user("dart").await;
    // The Dart library writes fields set to zero too: seq 0 first, so the first byte is 0x10.
    let login = login_msg(&a);
    let mut bytes = vec![0x10, 0x00, 0x28, 0x00];
    bytes.extend(protobuf(&Msg {
        seq: 0,
        ..login.clone()
    }));
    bytes.extend([0x38, 0x00]); // status = 0
    let mut c = RawClient::connect(srv.im).await;
    c.write(&bytes).await;
    let m = c.recv().await;
    assert_success(&m, &a);
    assert_eq!((m.id.as_str(), m.seq), ("login", 0));

    // A message whose two halves arrive apart: the first half does not decode and is kept.
    let hb = protobuf(&Msg {
        content: "x".repeat(300),
        ..heartbeat(&a, 5)
    });
    let cut = hb.len() - 100; // inside `content`
    c.write(&hb[..cut]).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    c.write(&hb[cut..]).await;
    let m = c.recv().await;
    assert_success(&m, &a);
    assert_eq!(m.seq, 5);
}

#[tokio::test]
async fn raw_bytes_that_never_decode_are_refused_at_the_limit() {
    let srv = start(&[("MAX_FRAME_BYTES", "64")]).await;
    let mut c = RawClient::connect(srv.im).await;
    // A string that announces 100 bytes: never whole under the limit.
    let mut bytes = vec![0x0a, 100];
    bytes.extend([b'x'; 70]);
    c.write(&bytes).await;
    let m = c.recv().await;
    assert_error(&m, "E_TOO_LARGE", "", 0);
    assert!(c.recv_opt().await.is_none());
}

#[tokio::test]
async fn json_objects_back_to_back_with_no_separator() {
    let srv = start(&[]).await;
    let (a, b) = (srv.user("ja").await, srv.user("jb").await);
    let mut s = TcpStream::connect(srv.im).await.unwrap();
    let login = json_bytes(&login_msg(&a));
    let m1 = json_bytes(&text(&a, &b.id, ChatType::Single, "j1", 2, "one"));
    let m2 = json_bytes(&text(&a, &b.id, ChatType::Single, "j2", 3, "two"));
    let mut all = login;
    all.extend(&m1);
    all.extend(b" \t");
    all.extend(&m2);
    s.write_all(&all).await.unwrap();
    // Replies keep their newline: one JSON object per line.
    let mut got = Vec::new();
    let mut buf = Vec::new();
    while got.len() < 3 {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .expect("answers in time")
            .unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            got.push(serde_json::from_slice::<Value>(&line).unwrap());
        }
    }
    assert_eq!(field(&got[0], "content"), "SUCCESS");
    assert_eq!(
        (field(&got[1], "id"), field(&got[2], "id")),
        ("j1".to_owned(), "j2".to_owned())
    );
    assert_eq!(num(&got[2], "status"), MsgStatus::Sent as u64);
}

#[tokio::test]
async fn json_in_a_binary_websocket_frame_is_json_and_answered_binary() {
    let srv = start(&[]).await;
    let a = srv.user("wsjson").await;
    let mut c = Client::connect(srv.im, Kind::WsBinary).await;
    c.send_ws(WsMessage::binary(json_bytes(&login_msg(&a))))
        .await;
    // The answer comes in the opcode the client used (binary), in protobuf.
    let m = c.recv().await;
    assert_success(&m, &a);
    // A JSON heartbeat in a text frame now: the answer comes as text.
    c.kind = Kind::WsText;
    c.send(&heartbeat(&a, 2)).await;
    assert_success(&c.recv().await, &a);
}

#[tokio::test]
async fn protobuf_in_a_text_websocket_frame_is_protobuf_and_answered_as_text() {
    let srv = start(&[]).await;
    let a = srv.user("wspb").await;
    // A heartbeat without a token (ASCII-only protobuf, so valid text) as the first frame:
    // decoded as protobuf it is an event without a token, so E_AUTH (not E_BAD_FRAME).
    let bytes = protobuf(&heartbeat(&a, 3));
    let text = String::from_utf8(bytes).expect("ASCII-only protobuf");
    let mut c = Client::connect(srv.im, Kind::WsText).await;
    c.send_ws(WsMessage::text(text)).await;
    let v = c.next_json().await.expect("an answer in text");
    assert!(field(&v, "content").starts_with("E_AUTH"), "{v}");
    assert_eq!((field(&v, "id"), num(&v, "seq")), ("hb-3".to_owned(), 3));
}

#[tokio::test]
async fn any_event_first_frame_logs_in_on_the_wire() {
    let srv = start(&[]).await;
    let a = srv.user("ev").await;
    let mut c = Client::connect(srv.im, Kind::Lines).await;
    let login = Msg {
        to_user_id: a.id.clone(),
        ..login_msg(&a)
    };
    c.send(&login).await;
    assert_success(&c.recv().await, &a);
}

async fn api_status(api: SocketAddr, path: &str, body: Value) -> (u16, Value) {
    http(api, "POST", path, Some(&body)).await
}

#[tokio::test]
async fn api_always_200_puts_the_outcome_in_code() {
    let on = start(&[("API_ALWAYS_200", "true")]).await;
    let off = start(&[]).await;
    for (srv, always) in [(&on, true), (&off, false)] {
        srv.user("taken").await;
        let cases = [
            (
                "/api/user/login",
                json!({"account":"taken","password":"nope"}),
                401,
            ),
            (
                "/api/user/register",
                json!({"account":"taken","password":"x"}),
                409,
            ),
            ("/api/user/register", json!({"account":"only"}), 400),
            ("/api/no/such/route", json!({}), 404),
        ];
        for (path, body, code) in cases {
            let (status, v) = api_status(srv.api, path, body).await;
            assert_eq!(v["code"], code, "{path}: {v}");
            assert_eq!(status, if always { 200 } else { code }, "{path}");
        }
        // Success is 200 either way; the operations routes keep their statuses.
        let (status, v) = api_status(
            srv.api,
            "/api/user/login",
            json!({"account":"taken","password":PASSWORD}),
        )
        .await;
        assert_eq!((status, v["code"].as_u64()), (200, Some(200)));
        let r = request(srv.api, "GET", "/nothing-here", &[], b"").await;
        assert_eq!(r.status, 404);
    }
}
