//! The frame loop's order under a burst: frames sent back to back are answered in the order
//! sent, whatever batches the chat messages among them went to storage in.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use easyim_proto::{ChatType, CodecError, Msg, MsgStatus, MsgType, KEEP_ALIVE};

use crate::{
    random_secret, Engine, EngineConfig, Grant, JwtAuth, MemoryStorage, Storage, User, UserId,
};

async fn user(storage: &Arc<dyn Storage>, id: UserId) {
    let user = User {
        id,
        account: format!("user{id}"),
        nickname: String::new(),
        avatar: String::new(),
        password_hash: String::new(),
        secret: random_secret(),
    };
    storage.create_user(user).await.unwrap();
}

fn frame(from: UserId, to: &str, msg_type: MsgType, id: &str, seq: u32) -> Msg {
    Msg {
        id: id.to_owned(),
        seq,
        from_user_id: from.to_string(),
        to_user_id: to.to_owned(),
        chat_type: ChatType::Single as i32,
        msg_type: msg_type as i32,
        status: MsgStatus::Sent as i32,
        content: "hi".to_owned(),
        ..Msg::default()
    }
}

/// What a frame out is, in short: `ack <seq>`, `hb <seq>`, `success`, or the error code.
fn kind(m: &Msg) -> String {
    if m.msg_type == MsgType::Notify as i32 {
        m.content.split(':').next().unwrap_or_default().to_owned()
    } else if m.from_user_id == KEEP_ALIVE && m.seq == 1 {
        "success".to_owned()
    } else if m.from_user_id == KEEP_ALIVE {
        format!("hb {}", m.seq)
    } else {
        format!("ack {} conv_seq {}", m.seq, m.conv_seq)
    }
}

#[tokio::test]
async fn a_burst_is_answered_in_the_order_sent() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let auth = Arc::new(JwtAuth::new(storage.clone(), "secret", 3600, 86400));
    let config = EngineConfig {
        rate_limit: 4,
        ..EngineConfig::default()
    };
    let engine = Engine::new(storage.clone(), auth.clone(), config);
    let (a, b) = (engine.next_id(), engine.next_id());
    user(&storage, a).await;
    user(&storage, b).await;
    let token = engine.auth().issue(a, Grant::Access).await.unwrap().token;

    let to = b.to_string();
    let mut login = frame(a, KEEP_ALIVE, MsgType::Event, "login", 1);
    login.access_token = token;
    // All buffered before the session runs: the login, then two chat messages (one batch), a
    // heartbeat (ends it), two more (the second over the limit of 4 frames: answered in its
    // place), then an undecodable frame, which ends the connection after them.
    let input: Vec<Result<Msg, CodecError>> = vec![
        Ok(login),
        Ok(frame(a, &to, MsgType::Text, "m1", 2)),
        Ok(frame(a, &to, MsgType::Text, "m2", 3)),
        Ok(frame(a, KEEP_ALIVE, MsgType::Event, "h", 4)),
        Ok(frame(a, &to, MsgType::Text, "m3", 5)),
        Ok(frame(a, &to, MsgType::Text, "m4", 6)),
        Err(CodecError::TooLarge { len: 10, max: 1 }),
        Ok(frame(a, &to, MsgType::Text, "never", 7)),
    ];
    let (conn, mut outbox) = engine.open();
    conn.run(futures::stream::iter(input)).await;
    let mut out = Vec::new();
    while let Some(f) = outbox.try_recv() {
        out.push(kind(f.msg()));
    }
    assert_eq!(
        out,
        [
            "success",
            "ack 2 conv_seq 1",
            "ack 3 conv_seq 2",
            "hb 4",
            "ack 5 conv_seq 3",
            "E_RATE_LIMIT",
            "E_TOO_LARGE",
        ]
    );
    // Storage steps: the pending page, then [m1, m2] and [m3, m4 refused] as one batch each.
    let steps = engine.metrics().storage_count.load(Relaxed);
    assert_eq!(steps, 3, "storage steps");
}
