//! The domain calls of the JSON-lines transport: each line `{"op": .., ..}` becomes one call of
//! an [`Im`] service, made as the user its `token` names.
//!
//! | op                | fields                                           | answer            |
//! |-------------------|--------------------------------------------------|-------------------|
//! | `register`        | `account`, `password`, `nickname`?               | id and tokens     |
//! | `login`           | `account`, `password`                            | id and tokens     |
//! | `profile`         | `token`                                          | a profile         |
//! | `user_search`     | `token`, `query`                                 | profiles          |
//! | `friend_add`      | `token`, `to`, `msg`?                            | a request         |
//! | `friend_requests` | `token`                                          | requests          |
//! | `friend_accept`   | `token`, `request`                               | the request       |
//! | `friend_refuse`   | `token`, `request`                               | the request       |
//! | `friend_remove`   | `token`, `friend`                                | `null`            |
//! | `friends`         | `token`                                          | profiles          |
//! | `group_create`    | `token`, `name`, `members`?                      | a group           |
//! | `group_invite`    | `token`, `group`, `users`                        | `null`            |
//! | `group_join`      | `token`, `group`                                 | `"member"` or `{request}` |
//! | `group_leave`     | `token`, `group`                                 | `null`            |
//! | `groups`          | `token`                                          | groups            |
//! | `group_members`   | `token`, `group`                                 | profiles          |
//! | `history`         | `token`, `peer`, `group`?, `before`?, `after`?, `limit`? | messages  |
//!
//! Every rule (who may read which history, who may invite) is the services'; this module only
//! translates JSON.

use anyhow::{anyhow, bail, Context as _};
use easyim_core::Page;
use easyim_core::{
    FriendRequest, Group, HistoryItem, HistoryPage, Im, ImError, Joined, Profile, Registration,
    SignedIn, UserId, DEFAULT_HISTORY_LIMIT, MAX_LIST_LIMIT, SEARCH_LIMIT,
};
use easyim_proto::ChatType;
use serde_json::{json, Map, Value};

/// Answers one call: `{"op":..,"ok":<result>}` or `{"op":..,"error":"<why>"}`.
pub(crate) async fn call(im: &Im, call: &Map<String, Value>) -> Value {
    let op = call.get("op").and_then(Value::as_str).unwrap_or_default();
    match dispatch(im, op, Fields(call)).await {
        Ok(v) => json!({"op": op, "ok": v}),
        Err(e) => json!({"op": op, "error": public_error(&e)}),
    }
}

/// What a client may read of an error: a failing storage says nothing of its internals.
fn public_error(e: &anyhow::Error) -> String {
    match e.downcast_ref::<ImError>() {
        Some(ImError::Storage(inner)) => {
            eprintln!("storage failed: {inner}");
            "internal error".to_owned()
        }
        _ => e.to_string(),
    }
}

async fn dispatch(im: &Im, op: &str, f: Fields<'_>) -> anyhow::Result<Value> {
    match op {
        "register" => {
            let nickname = f.opt_str("nickname")?.unwrap_or_default();
            let r = Registration::new(f.str("account")?, f.str("password")?, nickname);
            return Ok(signed_in(&im.accounts().register(r).await?));
        }
        "login" => {
            let password = f.str("password")?.to_owned();
            return Ok(signed_in(
                &im.accounts().login(f.str("account")?, password).await?,
            ));
        }
        _ => {}
    }
    let me = im.accounts().authenticate(f.str("token")?).await?;
    user_op(im, op, me, &f).await
}

/// The calls made as a signed-in user, `me`.
async fn user_op(im: &Im, op: &str, me: UserId, f: &Fields<'_>) -> anyhow::Result<Value> {
    let (friends, groups) = (im.friends(), im.groups());
    // The example answers one page, of the largest size, for each list.
    let page = Page::first(MAX_LIST_LIMIT);
    Ok(match op {
        "profile" => profile(&im.accounts().profile(me).await?),
        "user_search" => profiles(&friends.search(f.str("query")?, SEARCH_LIMIT).await?),
        "friend_add" => {
            let msg = f.opt_str("msg")?.unwrap_or_default();
            request(&friends.add(me, f.id("to")?, msg).await?)
        }
        "friend_requests" => Value::Array(
            friends
                .requests(me, page)
                .await?
                .items
                .iter()
                .map(request)
                .collect(),
        ),
        "friend_accept" => request(&friends.answer(me, f.id("request")?, true).await?),
        "friend_refuse" => request(&friends.answer(me, f.id("request")?, false).await?),
        "friend_remove" => unit(friends.remove(me, f.id("friend")?).await?),
        "friends" => profiles(&friends.list(me, page).await?.items),
        "group_create" => {
            let members = f.opt_ids("members")?;
            group(&groups.create(me, f.str("name")?, &members).await?)
        }
        "group_invite" => unit(
            groups
                .invite(me, f.id("group")?, &f.opt_ids("users")?)
                .await?,
        ),
        "group_join" => joined(groups.join(me, f.id("group")?).await?),
        "group_leave" => unit(groups.leave(me, f.id("group")?).await?),
        "groups" => Value::Array(
            groups
                .list(me, page)
                .await?
                .items
                .iter()
                .map(group)
                .collect(),
        ),
        "group_members" => profiles(&groups.members(me, f.id("group")?, page).await?.items),
        "history" => history(im, me, f).await?,
        "" => bail!("missing `op`"),
        other => bail!("unknown op {other:?}"),
    })
}

/// A page of `me`'s conversation with the user `peer`, or with the group `peer` if `group` is
/// true: the latest, or those `before` / `after` a conv_seq.
async fn history(im: &Im, me: UserId, f: &Fields<'_>) -> anyhow::Result<Value> {
    let chat_type = if f.opt_bool("group")? {
        ChatType::Group
    } else {
        ChatType::Single
    };
    let page = match (f.opt_id("before")?, f.opt_id("after")?) {
        (Some(_), Some(_)) => bail!("`before` and `after` exclude each other"),
        (Some(n), None) => HistoryPage::Before(n),
        (None, Some(n)) => HistoryPage::After(n),
        (None, None) => HistoryPage::Latest,
    };
    let limit = f
        .opt_id("limit")?
        .map_or(DEFAULT_HISTORY_LIMIT, |n| n as usize);
    let items = im
        .history()
        .page(me, chat_type, f.id("peer")?, page, limit)
        .await?;
    Ok(Value::Array(items.iter().map(history_item).collect()))
}

/// The fields of one call, with errors that name the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn str(&self, name: &str) -> anyhow::Result<&str> {
        self.opt_str(name)?
            .ok_or_else(|| anyhow!("missing `{name}`"))
    }

    fn opt_str(&self, name: &str) -> anyhow::Result<Option<&str>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .with_context(|| format!("`{name}` must be a string")),
        }
    }

    fn id(&self, name: &str) -> anyhow::Result<u64> {
        self.opt_id(name)?
            .ok_or_else(|| anyhow!("missing `{name}`"))
    }

    fn opt_id(&self, name: &str) -> anyhow::Result<Option<u64>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .with_context(|| format!("`{name}` must be a non-negative integer")),
        }
    }

    fn opt_ids(&self, name: &str) -> anyhow::Result<Vec<u64>> {
        let Some(v) = self.0.get(name) else {
            return Ok(Vec::new());
        };
        let bad = || anyhow!("`{name}` must be an array of ids");
        let items = v.as_array().ok_or_else(bad)?;
        items.iter().map(|i| i.as_u64().ok_or_else(bad)).collect()
    }

    fn opt_bool(&self, name: &str) -> anyhow::Result<bool> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => v
                .as_bool()
                .with_context(|| format!("`{name}` must be true or false")),
        }
    }
}

/// `"member"`, or the join request's id for a group that takes members on approval.
fn joined(j: Joined) -> Value {
    match j {
        Joined::Requested(r) => json!({"request": r.id.to_string()}),
        _ => json!("member"),
    }
}

fn unit((): ()) -> Value {
    Value::Null
}

fn signed_in(s: &SignedIn) -> Value {
    json!({
        "id": s.profile.id,
        "account": s.profile.account,
        "access_token": s.access.token,
        "refresh_token": s.refresh.token,
    })
}

fn profile(p: &Profile) -> Value {
    json!({"id": p.id, "account": p.account, "nickname": p.nickname, "avatar": p.avatar})
}

fn profiles(ps: &[Profile]) -> Value {
    Value::Array(ps.iter().map(profile).collect())
}

fn request(r: &FriendRequest) -> Value {
    let status = format!("{:?}", r.status).to_lowercase();
    json!({"id": r.id, "from": r.from, "to": r.to, "msg": r.msg, "status": status})
}

fn group(g: &Group) -> Value {
    json!({"id": g.id, "name": g.name, "owner": g.owner, "member_count": g.member_count})
}

fn history_item(h: &HistoryItem) -> Value {
    let m = &h.message;
    json!({
        "id": m.id,
        "from": m.from,
        "to": m.to,
        "conv_seq": m.conv_seq,
        "content": m.content,
        "timestamp": m.timestamp,
        "status": h.status.as_str_name(),
    })
}
