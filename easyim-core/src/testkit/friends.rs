//! The checks of [`FriendStore`] (on users made with [`AccountStore`]).

use std::sync::Arc;

use super::support::{add_user, expect_err, ok, profile_ids};
use crate::error::{Conflict, Entity, StorageError};
use crate::storage::{AccountStore, FriendStore};
use crate::types::{FriendRequest, Page, RequestStatus, UserId};

/// Friend requests, answers and friendships, with their `NotFound` and `Conflict` cases.
pub async fn check_friends<S: AccountStore + FriendStore + ?Sized>(s: Arc<S>) {
    let s = &*s;
    let pa = add_user(s, 1, "a").await;
    let pb = add_user(s, 2, "b").await;
    let pc = add_user(s, 3, "c").await;
    let (a, b, c) = (pa.id, pb.id, pc.id);
    let request = |id: u64, from: UserId, to: UserId, msg: &str, status| FriendRequest {
        id,
        from,
        to,
        msg: msg.to_owned(),
        status,
    };
    let requests_of = |to: UserId| async move {
        ok(
            s.friend_requests(to, Page::first(1000)).await,
            "friend_requests",
        )
    };
    let friends_of = |u: UserId| async move {
        profile_ids(&ok(s.friends(u, Page::first(1000)).await, "friends"))
    };
    use RequestStatus::{Accepted, Open, Refused};

    let r1 = request(1001, a, b, "hi", Open);
    let got = ok(
        s.create_friend_request(1001, a, b, "hi").await,
        "create_friend_request",
    );
    assert_eq!(got, r1, "create_friend_request");
    let got = ok(
        s.create_friend_request(1002, a, b, "again").await,
        "create_friend_request",
    );
    assert_eq!(
        got, r1,
        "a repeated request must return the open one unchanged"
    );
    assert_eq!(requests_of(b).await, vec![r1.clone()], "friend_requests(b)");
    assert_eq!(
        requests_of(a).await,
        vec![],
        "friend_requests(a): none addressed to a"
    );
    expect_err(
        s.create_friend_request(1003, a, 999, "").await,
        StorageError::NotFound(Entity::User),
        "friend request to an unknown user",
    );
    let r4 = request(1004, c, b, "", Open);
    let got = ok(
        s.create_friend_request(1004, c, b, "").await,
        "create_friend_request",
    );
    assert_eq!(got, r4, "create_friend_request");
    assert_eq!(
        requests_of(b).await,
        vec![r4.clone(), r1.clone()],
        "friend_requests(b), newest first"
    );

    expect_err(
        s.answer_friend_request(1001, c, true).await,
        StorageError::NotFound(Entity::Request),
        "answering a request addressed to someone else",
    );
    expect_err(
        s.answer_friend_request(9999, b, true).await,
        StorageError::NotFound(Entity::Request),
        "answering an unknown request",
    );
    assert_eq!(
        friends_of(a).await,
        Vec::<UserId>::new(),
        "friends(a) before any answer"
    );
    let got = ok(
        s.answer_friend_request(1001, b, true).await,
        "answer_friend_request",
    );
    assert_eq!(
        got,
        request(1001, a, b, "hi", Accepted),
        "accepting a request"
    );
    assert_eq!(friends_of(a).await, vec![b], "friends(a) after b accepted");
    assert_eq!(friends_of(b).await, vec![a], "friends(b) after accepting a");
    assert_eq!(
        ok(s.friends(a, Page::first(1000)).await, "friends"),
        vec![pb.clone()],
        "friends(a): profiles"
    );
    for accept in [true, false] {
        expect_err(
            s.answer_friend_request(1001, b, accept).await,
            StorageError::Conflict(Conflict::AlreadyAnswered),
            "answering a request twice",
        );
    }
    expect_err(
        s.create_friend_request(1005, a, b, "").await,
        StorageError::Conflict(Conflict::AlreadyFriends),
        "request between friends",
    );
    expect_err(
        s.create_friend_request(1006, b, a, "").await,
        StorageError::Conflict(Conflict::AlreadyFriends),
        "request between friends, the other way",
    );

    let got = ok(
        s.answer_friend_request(1004, b, false).await,
        "answer_friend_request",
    );
    assert_eq!(got, request(1004, c, b, "", Refused), "refusing a request");
    assert_eq!(friends_of(b).await, vec![a], "friends(b) after refusing c");
    assert_eq!(
        friends_of(c).await,
        Vec::<UserId>::new(),
        "friends(c) after being refused"
    );
    assert_eq!(
        requests_of(b).await,
        vec![
            request(1004, c, b, "", Refused),
            request(1001, a, b, "hi", Accepted)
        ],
        "friend_requests(b) after the answers"
    );
    let got = ok(
        s.create_friend_request(1007, c, b, "please").await,
        "create_friend_request",
    );
    assert_eq!(
        got,
        request(1007, c, b, "please", Open),
        "a new request after a refused one is a new open request"
    );
    ok(
        s.answer_friend_request(1007, b, true).await,
        "answer_friend_request",
    );
    assert_eq!(friends_of(b).await, vec![a, c], "friends(b), by id");

    ok(s.remove_friend(a, b).await, "remove_friend");
    assert_eq!(
        friends_of(a).await,
        Vec::<UserId>::new(),
        "friends(a) after remove_friend(a, b)"
    );
    assert_eq!(
        friends_of(b).await,
        vec![c],
        "friends(b) after remove_friend(a, b)"
    );
    expect_err(
        s.remove_friend(a, b).await,
        StorageError::NotFound(Entity::Friend),
        "removing a removed friend",
    );
    expect_err(
        s.remove_friend(b, a).await,
        StorageError::NotFound(Entity::Friend),
        "removing a removed friend, the other way",
    );
    ok(
        s.remove_friend(c, b).await,
        "remove_friend by the one who asked",
    );
    assert_eq!(
        friends_of(b).await,
        Vec::<UserId>::new(),
        "friends(b) at the end"
    );
    assert_eq!(
        friends_of(c).await,
        Vec::<UserId>::new(),
        "friends(c) at the end"
    );
}
