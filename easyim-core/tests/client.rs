//! `testkit::Client` against a whole `Im`: two users register through the accounts service,
//! log in, and exchange a message, its ack, its delivery and its receipt, with no transport.

use easyim_core::testkit::{memory_im, sign_up, Client, ClientError};
use easyim_core::{EngineConfig, HistoryPage, Im};
use easyim_proto::{ChatType, MsgStatus, MsgType};

fn im() -> Im {
    memory_im(EngineConfig::default())
}

#[tokio::test]
async fn two_users_exchange_a_message_and_its_receipt() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let bob = sign_up(&im, "bob").await;
    let (a, b) = (alice.profile.id, bob.profile.id);

    let mut ca = Client::connect(im.engine());
    let mut cb = Client::connect(im.engine());
    let ok = ca
        .login(a, &alice.access.token)
        .await
        .expect("alice logs in");
    assert_eq!(ok.content, "SUCCESS");
    cb.login(b, &bob.access.token).await.expect("bob logs in");
    assert_eq!((ca.user(), cb.user()), (a, b));
    assert_eq!(im.engine().online(a), 1);

    let ack = ca
        .send_acked(ca.text(b, ChatType::Single, "m1", 2, "hi bob"))
        .await
        .expect("alice's message is acked");
    assert_eq!(ack.conv_seq, 1, "{ack:?}");
    assert!(ack.timestamp > 0, "{ack:?}");

    let got = cb.recv().await.expect("bob gets alice's message");
    assert_eq!(
        (
            got.id.as_str(),
            got.from_user_id.as_str(),
            got.content.as_str()
        ),
        ("m1", a.to_string().as_str(), "hi bob"),
        "{got:?}"
    );
    assert_eq!(got.conv_seq, 1, "{got:?}");

    cb.send(cb.receipt(a, ChatType::Single, "m1", MsgStatus::Read))
        .await
        .unwrap();
    let receipt = ca.recv().await.expect("alice gets bob's receipt");
    assert_eq!(
        (
            receipt.id.as_str(),
            receipt.status,
            receipt.from_user_id.as_str()
        ),
        ("m1", MsgStatus::Read as i32, b.to_string().as_str()),
        "{receipt:?}"
    );

    let page = im
        .history()
        .page(a, ChatType::Single, b, HistoryPage::Latest, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].status, MsgStatus::Read, "history after the receipt");

    ca.finish().await;
    cb.close();
    assert!(
        cb.recv().await.is_none(),
        "bob's connection ends once closed"
    );
}

#[tokio::test]
async fn a_bad_token_is_refused_and_the_connection_closes() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let mut c = Client::connect(im.engine());
    match c.login(alice.profile.id, "not a token").await {
        Err(ClientError::Unexpected(m)) => {
            assert_eq!(m.msg_type, MsgType::Notify as i32, "{m:?}");
            assert!(m.content.starts_with("E_"), "{m:?}");
        }
        other => panic!("want an error NOTIFY, got {other:?}"),
    }
    assert!(matches!(c.next().await, Err(ClientError::Closed)));
    assert_eq!(c.user(), 0, "a refused login leaves the client logged out");
}

#[tokio::test]
async fn expect_ack_reports_an_error_frame() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let mut c = Client::connect(im.engine());
    c.login(alice.profile.id, &alice.access.token)
        .await
        .unwrap();
    // To nobody: the session answers an error NOTIFY, not an ack.
    let m = c.text(999, ChatType::Single, "x", 2, "to nobody");
    match c.send_acked(m).await {
        Err(ClientError::Unexpected(m)) => assert_eq!(m.msg_type, MsgType::Notify as i32),
        other => panic!("want an error NOTIFY, got {other:?}"),
    }
}
