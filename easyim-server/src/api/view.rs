//! The typed bodies (`data`) of the API's answers, as http-api.md names their fields. Ids are
//! decimal strings: they pass 2^53.

use easyim_core::{FriendRequest, Group, Profile, SignedIn};
use serde::Serialize;

/// `{}`: the data of an answer that has nothing to say, and of every error.
#[derive(Debug, Serialize)]
pub(crate) struct Empty {}

/// `{id, account, nickname, avatar}`.
#[derive(Debug, Serialize)]
pub(crate) struct ProfileView {
    id: String,
    account: String,
    nickname: String,
    avatar: String,
}

impl From<Profile> for ProfileView {
    fn from(p: Profile) -> Self {
        ProfileView {
            id: p.id.to_string(),
            account: p.account,
            nickname: p.nickname,
            avatar: p.avatar,
        }
    }
}

/// `{items: [...]}`.
#[derive(Debug, Serialize)]
pub(crate) struct Items<T> {
    items: Vec<T>,
}

impl<T> Items<T> {
    /// The items, converted from what the core returned.
    pub(crate) fn of<U: Into<T>>(v: Vec<U>) -> Self {
        Items {
            items: v.into_iter().map(Into::into).collect(),
        }
    }
}

/// `{total, items}`: the friends list.
#[derive(Debug, Serialize)]
pub(crate) struct Counted<T> {
    total: usize,
    items: Vec<T>,
}

impl<T> Counted<T> {
    /// The items, converted, with their count.
    pub(crate) fn of<U: Into<T>>(v: Vec<U>) -> Self {
        Counted {
            total: v.len(),
            items: v.into_iter().map(Into::into).collect(),
        }
    }
}

/// `{id}`: what was created.
#[derive(Debug, Serialize)]
pub(crate) struct Created {
    id: String,
}

impl Created {
    /// The id of what was created.
    pub(crate) fn new(id: u64) -> Self {
        Created { id: id.to_string() }
    }
}

/// Register and login: the profile and a fresh pair of tokens.
#[derive(Debug, Serialize)]
pub(crate) struct SignedInView {
    id: String,
    nickname: String,
    avatar: String,
    access_token: String,
    expires_in: u64,
    refresh_token: String,
}

impl From<SignedIn> for SignedInView {
    fn from(s: SignedIn) -> Self {
        SignedInView {
            id: s.profile.id.to_string(),
            nickname: s.profile.nickname,
            avatar: s.profile.avatar,
            access_token: s.access.token,
            expires_in: s.access.expires_in,
            refresh_token: s.refresh.token,
        }
    }
}

/// `check_token`: the kind of the token and the seconds it has left.
#[derive(Debug, Serialize)]
pub(crate) struct TokenInfo {
    pub(crate) grant_type: &'static str,
    pub(crate) expires_in: u64,
}

/// `refresh_token`: the new token, and the refresh token to use next time (the one sent is
/// spent).
#[derive(Debug, Serialize)]
pub(crate) struct NewToken {
    pub(crate) grant_type: &'static str,
    pub(crate) expires_in: u64,
    pub(crate) token: String,
    pub(crate) refresh_token: String,
}

/// A friend request addressed to the caller.
#[derive(Debug, Serialize)]
pub(crate) struct RequestView {
    id: String,
    from_user_id: String,
    msg: String,
    status: i32,
}

impl From<FriendRequest> for RequestView {
    fn from(r: FriendRequest) -> Self {
        RequestView {
            id: r.id.to_string(),
            from_user_id: r.from.to_string(),
            msg: r.msg,
            status: r.status as i32,
        }
    }
}

/// A group the caller belongs to.
#[derive(Debug, Serialize)]
pub(crate) struct GroupView {
    id: String,
    name: String,
    owner_id: String,
    member_count: u64,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        GroupView {
            id: g.id.to_string(),
            name: g.name,
            owner_id: g.owner.to_string(),
            member_count: g.member_count,
        }
    }
}

/// `/healthz`.
#[derive(Debug, Serialize)]
pub(crate) struct Health {
    pub(crate) status: &'static str,
}
