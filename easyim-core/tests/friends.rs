//! The friends service through `Im`, with a live connection of the target.

use std::time::Duration;

use easyim_core::testkit::{memory_im, sign_up, Client};
use easyim_core::{EngineConfig, Im, Page};
use easyim_proto::MsgType;

fn im() -> Im {
    memory_im(EngineConfig::default())
}

/// A repeated friend request returns the open one and does not notify the target again, so
/// nobody can flood a user's connections (and get them closed as slow) by repeating an add.
#[tokio::test]
async fn a_repeated_request_is_the_same_request_and_notifies_once() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let bob = sign_up(&im, "bob").await;
    let (a, b) = (alice.profile.id, bob.profile.id);
    let mut cb = Client::connect(im.engine()).with_wait(Duration::from_millis(300));
    cb.login(b, &bob.access.token).await.expect("bob logs in");

    let first = im.friends().add(a, b, "hi").await.unwrap();
    for _ in 0..20 {
        let again = im.friends().add(a, b, "hi again").await.unwrap();
        assert_eq!(again.id, first.id, "the open request is returned");
    }
    let notice = cb.recv().await.expect("bob is told once");
    assert_eq!(notice.msg_type, MsgType::Notify as i32);
    assert_eq!(notice.content, format!("FRIEND_REQUEST: {}", first.id));
    assert!(cb.recv().await.is_none(), "and only once");
    assert_eq!(
        im.friends()
            .requests(b, Page::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Once answered, a new request is a new one, and is announced.
    im.friends().answer(b, first.id, false).await.unwrap();
    let second = im.friends().add(a, b, "please").await.unwrap();
    assert_ne!(second.id, first.id);
    let notice = cb.recv().await.expect("the new request is announced");
    assert_eq!(notice.content, format!("FRIEND_REQUEST: {}", second.id));
}
