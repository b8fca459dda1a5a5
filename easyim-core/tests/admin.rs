//! The server API's domain (`Im::admin`) and push devices (`Im::devices`) through `Im`, with
//! live connections: messages as a user and as the system (idempotent by id, to one user, a
//! list, a group), accounts without passwords and their tokens, disabling (cut off at once,
//! no new tokens, kept disabled by a kick), and the bounds of every input.

use std::time::Duration;

use easyim_core::testkit::{memory_im, sign_up, Client, ClientError};
use easyim_core::{
    AdminMessage, Created, EngineConfig, Entity, Grant, Im, ImError, NewAccount, Recipients,
    SendOutcome, Sender, SignedIn, MAX_BULK_USERS, MAX_DEVICES, SYSTEM_USER,
};
use easyim_proto::{ChatType, ErrorCode, MsgType};

fn im() -> Im {
    memory_im(EngineConfig::default())
}

async fn online(im: &Im, u: &SignedIn) -> Client {
    let mut c = Client::connect(im.engine()).with_wait(Duration::from_millis(300));
    c.login(u.profile.id, &u.access.token)
        .await
        .expect("logs in");
    c
}

fn text(id: &str, from: Sender, to: Recipients) -> AdminMessage {
    AdminMessage::new(id, from, to, MsgType::Text, format!("content of {id}"))
}

#[tokio::test]
async fn system_and_user_messages_are_stored_delivered_and_idempotent() {
    let im = im();
    let (alice, bob) = (sign_up(&im, "alice").await, sign_up(&im, "bob").await);
    let (a, b) = (alice.profile.id, bob.profile.id);
    let mut ca = online(&im, &alice).await;
    let mut cb = online(&im, &bob).await;

    let sent = im
        .admin()
        .send(text(
            "sys-1",
            Sender::System,
            Recipients::Users(vec![a, b, a]),
        ))
        .await
        .unwrap();
    assert_eq!(sent.len(), 2, "repeats in the list are sent once");
    for (s, who) in sent.iter().zip([a, b]) {
        assert_eq!((s.to, s.chat_type), (who, ChatType::Single));
        assert!(matches!(&s.outcome, SendOutcome::Stored(m) if m.conv_seq == 1));
    }
    for c in [&mut ca, &mut cb] {
        let m = c.next().await.expect("the system message arrives");
        assert_eq!(
            (m.id.clone(), m.from_user_id.clone()),
            ("sys-1".to_owned(), SYSTEM_USER.to_string())
        );
        assert_eq!(m.content, "content of sys-1");
    }
    // Again with the same id: nothing stored or delivered again.
    let again = im
        .admin()
        .send(text("sys-1", Sender::System, Recipients::User(b)))
        .await
        .unwrap();
    assert!(matches!(&again[0].outcome, SendOutcome::Duplicate(m) if m.conv_seq == 1));
    assert!(
        cb.recv().await.is_none(),
        "a duplicate is not delivered again"
    );

    // As alice to bob: bob gets it, and so does alice's own connection.
    let sent = im
        .admin()
        .send(text("as-alice", Sender::User(a), Recipients::User(b)))
        .await
        .unwrap();
    assert!(matches!(&sent[0].outcome, SendOutcome::Stored(_)));
    for c in [&mut cb, &mut ca] {
        let m = c.next().await.expect("alice's message arrives");
        assert_eq!(
            (m.id.as_str(), m.from_user_id.clone()),
            ("as-alice", a.to_string())
        );
    }
}

#[tokio::test]
async fn group_messages_need_a_member_and_a_user_sender() {
    let im = im();
    let (alice, bob, carol) = (
        sign_up(&im, "alice").await,
        sign_up(&im, "bob").await,
        sign_up(&im, "carol").await,
    );
    let (a, b, c) = (alice.profile.id, bob.profile.id, carol.profile.id);
    let g = im.groups().create(a, "g", &[b]).await.unwrap().id;
    let mut cb = online(&im, &bob).await;
    let sent = im
        .admin()
        .send(text("g-1", Sender::User(a), Recipients::Group(g)))
        .await
        .unwrap();
    assert_eq!((sent[0].to, sent[0].chat_type), (g, ChatType::Group));
    assert!(matches!(&sent[0].outcome, SendOutcome::Stored(_)));
    let m = cb.next().await.expect("the group message arrives");
    assert_eq!(m.id, "g-1");
    let out = im
        .admin()
        .send(text("g-2", Sender::User(c), Recipients::Group(g)))
        .await
        .unwrap();
    assert_eq!(out[0].outcome, SendOutcome::NotMember);
    let out = im
        .admin()
        .send(text("g-3", Sender::User(a), Recipients::Group(g + 1)))
        .await
        .unwrap();
    assert_eq!(out[0].outcome, SendOutcome::NoGroup);
    let out = im
        .admin()
        .send(text("u-1", Sender::User(a), Recipients::User(c + 999)))
        .await
        .unwrap();
    assert_eq!(out[0].outcome, SendOutcome::NoUser);
    // The same id by another sender in the same conversation.
    im.admin()
        .send(text("shared", Sender::User(a), Recipients::User(b)))
        .await
        .unwrap();
    let out = im
        .admin()
        .send(text("shared", Sender::User(b), Recipients::User(a)))
        .await
        .unwrap();
    assert_eq!(out[0].outcome, SendOutcome::IdTaken);
}

#[tokio::test]
async fn bad_messages_are_refused() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let a = alice.profile.id;
    let admin = im.admin();
    let invalid = |r: Result<_, ImError>| matches!(r, Err(ImError::Invalid(_)));
    assert!(invalid(
        admin
            .send(text("", Sender::System, Recipients::User(a)))
            .await
    ));
    assert!(invalid(
        admin
            .send(text(&"x".repeat(129), Sender::System, Recipients::User(a)))
            .await
    ));
    let empty = AdminMessage::new("e", Sender::System, Recipients::User(a), MsgType::Text, "");
    assert!(invalid(admin.send(empty).await));
    let huge = AdminMessage::new(
        "h",
        Sender::System,
        Recipients::User(a),
        MsgType::Text,
        "x".repeat(64 * 1024 + 1),
    );
    assert!(invalid(admin.send(huge).await));
    let event = AdminMessage::new(
        "v",
        Sender::System,
        Recipients::User(a),
        MsgType::Event,
        "x",
    );
    assert!(invalid(admin.send(event).await));
    // The system may write to a group: an unknown one is named in the answer, not refused.
    let sent = admin
        .send(text("s", Sender::System, Recipients::Group(1)))
        .await
        .unwrap();
    assert_eq!(sent[0].outcome, SendOutcome::NoGroup);
    assert!(invalid(
        admin
            .send(text("l", Sender::System, Recipients::Users(vec![])))
            .await
    ));
    assert!(invalid(
        admin
            .send(text(
                "l",
                Sender::System,
                Recipients::Users((1..=201).collect())
            ))
            .await
    ));
    assert!(invalid(
        admin
            .send(text("me", Sender::User(a), Recipients::User(a)))
            .await
    ));
    assert!(matches!(
        admin
            .send(text("ghost", Sender::User(a + 1), Recipients::User(a)))
            .await,
        Err(ImError::NotFound(Entity::User))
    ));
}

#[tokio::test]
async fn accounts_without_passwords_sign_in_with_issued_tokens() {
    let im = im();
    let created = im
        .admin()
        .create_users(vec![
            NewAccount::new("u1", "User One"),
            NewAccount::new("u2", ""),
        ])
        .await
        .unwrap();
    let Created::Created(u1) = &created[0] else {
        panic!("u1 not created: {created:?}")
    };
    assert_eq!(u1.nickname, "User One");
    assert!(matches!(&created[1], Created::Created(p) if p.nickname == "u2"));
    // Idempotent by name.
    let again = im
        .admin()
        .create_users(vec![NewAccount::new("u1", "other")])
        .await
        .unwrap();
    assert_eq!(again, vec![Created::Existing(u1.clone())]);
    // No password signs in.
    for pw in ["", "password", "x"] {
        assert!(im.accounts().login("u1", pw.to_owned()).await.is_err());
    }
    let tokens = im.admin().issue_tokens(u1.id).await.unwrap();
    assert_eq!(
        im.accounts()
            .authenticate(&tokens.access.token)
            .await
            .unwrap(),
        u1.id
    );
    let mut c = Client::connect(im.engine()).with_wait(Duration::from_millis(300));
    c.login(u1.id, &tokens.access.token)
        .await
        .expect("IM login");
    im.accounts()
        .refresh(&tokens.refresh.token, Grant::Access, false)
        .await
        .expect("the issued refresh token works");
    assert!(matches!(
        im.admin().issue_tokens(u1.id + 12345).await,
        Err(ImError::NotFound(Entity::User))
    ));
    // Bounds.
    let invalid = |r: Result<_, ImError>| matches!(r, Err(ImError::Invalid(_)));
    assert!(invalid(im.admin().create_users(vec![]).await));
    let many = (0..=MAX_BULK_USERS)
        .map(|i| NewAccount::new(format!("m{i}"), ""))
        .collect();
    assert!(invalid(im.admin().create_users(many).await));
    let twice = vec![NewAccount::new("d", ""), NewAccount::new("d", "")];
    assert!(invalid(im.admin().create_users(twice).await));
    assert!(invalid(
        im.admin().create_users(vec![NewAccount::new("", "")]).await
    ));
    assert!(invalid(
        im.admin()
            .create_users(vec![NewAccount::new("a\nb", "")])
            .await
    ));
    assert!(invalid(
        im.admin()
            .create_users(vec![NewAccount::new("n", "x".repeat(129))])
            .await
    ));
    assert!(
        im.accounts().login("d", "".into()).await.is_err()
            && im.accounts().profile(u1.id).await.is_ok()
    );
}

#[tokio::test]
async fn a_disabled_user_is_cut_off_at_once_and_stays_off() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let a = alice.profile.id;
    let mut c1 = online(&im, &alice).await;
    let mut c2 = online(&im, &alice).await;
    im.admin().disable(a).await.unwrap();
    for c in [&mut c1, &mut c2] {
        let m = c.next().await.expect("an error frame");
        assert!(m.content.contains(ErrorCode::AuthRevoked.as_str()), "{m:?}");
        assert!(matches!(c.next().await, Err(ClientError::Closed)));
    }
    assert!(im.admin().user_state(a).await.unwrap().disabled);
    assert!(matches!(
        im.accounts().login("alice", "password".into()).await,
        Err(ImError::Forbidden("account disabled"))
    ));
    assert!(im
        .accounts()
        .authenticate(&alice.access.token)
        .await
        .is_err());
    assert!(im
        .accounts()
        .refresh(&alice.refresh.token, Grant::Access, false)
        .await
        .is_err());
    assert!(matches!(
        im.admin().issue_tokens(a).await,
        Err(ImError::Forbidden(_))
    ));
    // A kick or a logout does not enable it.
    im.admin().kick(a).await.unwrap();
    im.accounts().logout(a).await.unwrap();
    assert!(im.admin().user_state(a).await.unwrap().disabled);
    assert!(im
        .accounts()
        .login("alice", "password".into())
        .await
        .is_err());
    im.admin().enable(a).await.unwrap();
    assert!(!im.admin().user_state(a).await.unwrap().disabled);
    let back = im
        .accounts()
        .login("alice", "password".into())
        .await
        .unwrap();
    online(&im, &back).await;
    assert!(matches!(
        im.admin().disable(a + 1).await,
        Err(ImError::NotFound(Entity::User))
    ));
}

#[tokio::test]
async fn kick_closes_connections_and_state_counts_them() {
    let im = im();
    let (alice, bob) = (sign_up(&im, "alice").await, sign_up(&im, "bob").await);
    let (a, b) = (alice.profile.id, bob.profile.id);
    let g = im.groups().create(a, "g", &[b]).await.unwrap().id;
    let _c1 = online(&im, &alice).await;
    let _c2 = online(&im, &alice).await;
    let _cb = online(&im, &bob).await;
    let st = im.admin().user_state(a).await.unwrap();
    assert_eq!(
        (st.connections, st.groups.clone(), st.disabled),
        (2, vec![g], false)
    );
    let gs = im.admin().group_state(g).await.unwrap();
    assert_eq!((gs.group.member_count, gs.online_members), (2, 2));
    let server = im.admin().server_state();
    assert_eq!((server.online_users, server.connections), (2, 3));
    assert_eq!(im.admin().kick(a).await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(im.admin().user_state(a).await.unwrap().connections, 0);
    assert!(im
        .accounts()
        .authenticate(&alice.access.token)
        .await
        .is_err());
    assert!(matches!(
        im.admin().group_state(g + 1).await,
        Err(ImError::NotFound(Entity::Group))
    ));
}

#[tokio::test]
async fn devices_are_bounded_and_listed() {
    let im = im();
    let alice = sign_up(&im, "alice").await;
    let a = alice.profile.id;
    let d = im.devices();
    d.register(a, "apns", "tok-1").await.unwrap();
    d.register(a, "fcm", "tok-2").await.unwrap();
    let list = d.list(a).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(im.admin().user_state(a).await.unwrap().devices, list);
    for i in 2..MAX_DEVICES {
        d.register(a, "web", &format!("more-{i}")).await.unwrap();
    }
    assert!(matches!(
        d.register(a, "web", "one-too-many").await,
        Err(ImError::Forbidden(_))
    ));
    d.register(a, "web", "tok-1")
        .await
        .expect("a known token at the cap");
    d.remove(a, "tok-2").await.unwrap();
    assert!(matches!(
        d.remove(a, "tok-2").await,
        Err(ImError::NotFound(Entity::Device))
    ));
    let invalid = |r: Result<_, ImError>| matches!(r, Err(ImError::Invalid(_)));
    assert!(invalid(d.register(a, "", "t").await));
    assert!(invalid(d.register(a, "bad platform", "t").await));
    assert!(invalid(d.register(a, &"p".repeat(33), "t").await));
    assert!(invalid(d.register(a, "fcm", "").await));
    assert!(invalid(d.register(a, "fcm", &"t".repeat(4097)).await));
    assert!(invalid(d.register(a, "fcm", "a\u{0}b").await));
    assert!(matches!(
        d.register(a + 1, "fcm", "t").await,
        Err(ImError::NotFound(Entity::User))
    ));
}
