//! Accounts, groups and history over the HTTP API of a running server.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::{http, num};

/// The password of every account [`register`] makes.
pub const PASSWORD: &str = "pw-123456";

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    /// The id as the wire carries it: a string of digits.
    pub id: String,
    pub token: String,
}

impl User {
    /// The id as a number.
    pub fn uid(&self) -> u64 {
        self.id.parse().expect("an id of digits")
    }
}

/// POST /api/user/register of `account` (nickname `account`, password [`PASSWORD`]).
pub async fn register(api: SocketAddr, account: &str) -> User {
    let (status, body) = http(
        api,
        "POST",
        "/api/user/register",
        Some(&json!({"account": account, "password": PASSWORD, "nickname": account})),
    )
    .await;
    assert_eq!(status, 200, "register {account}: {body}");
    User {
        id: body["data"]["id"].as_str().unwrap().to_owned(),
        token: body["data"]["access_token"].as_str().unwrap().to_owned(),
    }
}

/// Creates a group owned by `owner` with `members`; returns its id.
pub async fn create_group(api: SocketAddr, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let (status, body) = http(
        api,
        "POST",
        "/api/group/create",
        Some(&json!({"access_token": owner.token, "name": "g", "member_ids": ids})),
    )
    .await;
    assert_eq!(status, 200, "group create: {body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

/// The whole history of a conversation as `token` sees it, oldest first.
pub async fn history(api: SocketAddr, token: &str, chat_type: u8, peer: u64) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut after = 0;
    loop {
        let path = format!(
            "/api/messages?access_token={token}&chat_type={chat_type}&peer_id={peer}&after_seq={after}&limit=200"
        );
        let (status, v) = http(api, "GET", &path, None).await;
        assert_eq!(status, 200, "history: {v}");
        let items = v["data"]["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        after = num(items.last().unwrap(), "conv_seq");
        out.extend(items);
    }
}
