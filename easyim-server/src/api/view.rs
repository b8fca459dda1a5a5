//! The typed bodies (`data`) of the API's answers, as http-api.md names their fields. Ids are
//! decimal strings: they pass 2^53.

use easyim_core::{FriendRequest, Group, Paged, Profile, SignedIn};
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

/// The paged lists, each with its own cursors: a cursor is the list's letter and the key of the
/// last item of its page in hex, so that a cursor of one list given to another is a 400.
/// Clients are told it is opaque: the form may change.
#[derive(Debug, Clone, Copy)]
pub(crate) enum List {
    Friends,
    Requests,
    Groups,
    Members,
    Blocks,
    JoinRequests,
}

impl List {
    fn tag(self) -> char {
        match self {
            List::Friends => 'f',
            List::Requests => 'r',
            List::Groups => 'g',
            List::Members => 'm',
            List::Blocks => 'b',
            List::JoinRequests => 'j',
        }
    }

    /// The cursor of the page after the key `next`; empty when there is no next page.
    pub(crate) fn cursor(self, next: Option<u64>) -> String {
        next.map(|key| format!("{}{key:x}", self.tag()))
            .unwrap_or_default()
    }

    /// The key a cursor of this list names; `None` if it is not one.
    pub(crate) fn key(self, cursor: &str) -> Option<u64> {
        let hex = cursor.strip_prefix(self.tag())?;
        let well_formed =
            (1..=16).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
    }
}

/// `{items, cursor}`: a page of a list; `cursor` is what to pass for the next page, empty after
/// the last.
#[derive(Debug, Serialize)]
pub(crate) struct Listed<T> {
    items: Vec<T>,
    cursor: String,
}

impl<T> Listed<T> {
    /// The page's items, converted, and the cursor of the next page of `list`.
    pub(crate) fn of<U: Into<T>>(page: Paged<U>, list: List) -> Self {
        Listed {
            items: page.items.into_iter().map(Into::into).collect(),
            cursor: list.cursor(page.next),
        }
    }
}

/// `{total, items, cursor}`: a page of the friends list; `total` counts all the friends, not
/// the page (the original's field, kept: one COUNT query).
#[derive(Debug, Serialize)]
pub(crate) struct Counted<T> {
    total: u64,
    items: Vec<T>,
    cursor: String,
}

impl<T> Counted<T> {
    /// The page's items, converted, the whole list's `total`, and the next page's cursor.
    pub(crate) fn of<U: Into<T>>(total: u64, page: Paged<U>, list: List) -> Self {
        let Listed { items, cursor } = Listed::of(page, list);
        Counted {
            total,
            items,
            cursor,
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
