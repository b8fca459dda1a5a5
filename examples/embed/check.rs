//! `--check-only`: the whole domain, end to end through the JSON-lines transport, in process.
//!
//! Two peers talk to [`serve_lines`] over in-memory pipes (`tokio::io::duplex`), exactly as a
//! TCP client would: register, friend request and answer, a group, two logged-in sessions,
//! 1:1 and group messages with their acks and deliveries, a receipt, history. Any answer that
//! is not the expected one is an error (and `main` exits non-zero).

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _};
use easyim_core::testkit::login_frame;
use easyim_core::{Im, UserId};
use easyim_proto::{ChatType, Msg, MsgStatus, MsgType, KEEP_ALIVE};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{DuplexStream, ReadHalf, WriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

use crate::transport::serve_lines;

/// How long a peer waits for a line it expects.
const WAIT: Duration = Duration::from_secs(5);

/// One client of the transport, over a pipe instead of a socket.
struct Peer {
    name: &'static str,
    lines: FramedRead<ReadHalf<DuplexStream>, LinesCodec>,
    out: FramedWrite<WriteHalf<DuplexStream>, LinesCodec>,
    /// IM frames that came while the peer waited for the answer to a call.
    frames: VecDeque<Msg>,
    /// The user, once registered, and its access token.
    id: UserId,
    token: String,
}

impl Peer {
    fn connect(im: &Im, name: &'static str) -> Peer {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (r, w) = tokio::io::split(server);
        tokio::spawn(serve_lines(im.clone(), r, w));
        let (r, w) = tokio::io::split(client);
        Peer {
            name,
            lines: FramedRead::new(r, LinesCodec::new()),
            out: FramedWrite::new(w, LinesCodec::new()),
            frames: VecDeque::new(),
            id: 0,
            token: String::new(),
        }
    }

    async fn line(&mut self) -> anyhow::Result<Value> {
        let line = tokio::time::timeout(WAIT, self.lines.next())
            .await
            .map_err(|_| anyhow!("{}: nothing within {WAIT:?}", self.name))?
            .ok_or_else(|| anyhow!("{}: the connection closed", self.name))??;
        serde_json::from_str(&line).with_context(|| format!("{}: not JSON: {line}", self.name))
    }

    /// Makes a domain call (with this peer's token) and returns its `ok` answer.
    async fn call(&mut self, op: &str, mut fields: Value) -> anyhow::Result<Value> {
        fields["op"] = op.into();
        if !self.token.is_empty() {
            fields["token"] = self.token.clone().into();
        }
        self.out.send(fields.to_string()).await?;
        loop {
            let mut answer = self.line().await?;
            if answer.get("op").is_none() {
                self.frames.push_back(serde_json::from_value(answer)?);
                continue;
            }
            ensure!(
                answer["op"] == op,
                "{}: answer to another op: {answer}",
                self.name
            );
            if let Some(ok) = answer.get_mut("ok") {
                return Ok(ok.take());
            }
            bail!("{}: {op} failed: {}", self.name, answer["error"]);
        }
    }

    /// Makes a call that must fail, and returns its error text.
    async fn call_err(&mut self, op: &str, fields: Value) -> anyhow::Result<String> {
        match self.call(op, fields).await {
            Ok(v) => bail!("{}: {op} should have failed, got {v}", self.name),
            Err(e) => Ok(e.to_string()),
        }
    }

    async fn send(&mut self, m: &Msg) -> anyhow::Result<()> {
        Ok(self.out.send(serde_json::to_string(m)?).await?)
    }

    /// The next IM frame.
    /// The next frame, PRESENCE frames aside (a friend coming online may be told at any time:
    /// not what this check looks at).
    async fn recv(&mut self) -> anyhow::Result<Msg> {
        loop {
            let m = match self.frames.pop_front() {
                Some(m) => m,
                None => {
                    let line = self.line().await?;
                    ensure!(
                        line.get("op").is_none(),
                        "{}: an answer, not a frame: {line}",
                        self.name
                    );
                    serde_json::from_value(line)?
                }
            };
            if m.msg_type != MsgType::Presence as i32 {
                return Ok(m);
            }
        }
    }

    fn text(&self, to: u64, chat_type: ChatType, id: &str, seq: u32, content: &str) -> Msg {
        Msg {
            id: id.to_owned(),
            seq,
            from_user_id: self.id.to_string(),
            to_user_id: to.to_string(),
            chat_type: chat_type as i32,
            msg_type: MsgType::Text as i32,
            status: MsgStatus::Sent as i32,
            content: content.to_owned(),
            ..Msg::default()
        }
    }
}

/// Runs the whole domain through the transport on `im` (a fresh storage).
pub(crate) async fn run(im: &Im) -> anyhow::Result<()> {
    let mut alice = Peer::connect(im, "alice");
    let mut bob = Peer::connect(im, "bob");
    accounts(&mut alice, &mut bob).await?;
    friends(&mut alice, &mut bob).await?;
    let group = groups(&mut alice, &mut bob).await?;
    messages(&mut alice, &mut bob, group).await?;
    history(&mut alice, &mut bob, group).await
}

async fn accounts(alice: &mut Peer, bob: &mut Peer) -> anyhow::Result<()> {
    for p in [&mut *alice, &mut *bob] {
        let fields = json!({"account": p.name, "password": format!("{}-pw", p.name)});
        let r = p.call("register", fields).await?;
        p.id = r["id"].as_u64().context("register: no id")?;
    }
    let err = alice
        .call_err("login", json!({"account": "alice", "password": "wrong"}))
        .await?;
    ensure!(
        err.contains("wrong account or password"),
        "a wrong password: {err}"
    );
    for p in [&mut *alice, &mut *bob] {
        let fields = json!({"account": p.name, "password": format!("{}-pw", p.name)});
        let r = p.call("login", fields).await?;
        ensure!(r["id"] == p.id, "login of {}: {r}", p.name);
        p.token = r["access_token"].as_str().context("no token")?.to_owned();
    }
    let me = bob.call("profile", json!({})).await?;
    ensure!(me["account"] == "bob", "bob's profile: {me}");
    Ok(())
}

async fn friends(alice: &mut Peer, bob: &mut Peer) -> anyhow::Result<()> {
    let sent = alice
        .call("friend_add", json!({"to": bob.id, "msg": "hi, it's alice"}))
        .await?;
    let request = sent["id"].as_u64().context("friend_add: no id")?;
    let open = bob.call("friend_requests", json!({})).await?;
    ensure!(
        open[0]["id"] == request && open[0]["status"] == "open",
        "bob's requests: {open}"
    );
    let answered = bob
        .call("friend_accept", json!({"request": request}))
        .await?;
    ensure!(answered["status"] == "accepted", "accepting: {answered}");
    let again = bob
        .call_err("friend_accept", json!({"request": request}))
        .await?;
    ensure!(again.contains("answered"), "accepting twice: {again}");
    let (a, b) = (alice.id, bob.id);
    for (p, peer) in [(&mut *alice, b), (&mut *bob, a)] {
        let list = p.call("friends", json!({})).await?;
        ensure!(
            list[0]["id"] == peer && list[1].is_null(),
            "{}'s friends: {list}",
            p.name
        );
    }
    Ok(())
}

async fn groups(alice: &mut Peer, bob: &mut Peer) -> anyhow::Result<u64> {
    let g = alice
        .call("group_create", json!({"name": "team", "members": [bob.id]}))
        .await?;
    ensure!(
        g["member_count"] == 2 && g["owner"] == alice.id,
        "group_create: {g}"
    );
    let id = g["id"].as_u64().context("group_create: no id")?;
    let mine = bob.call("groups", json!({})).await?;
    ensure!(mine[0]["id"] == id, "bob's groups: {mine}");
    let members = bob.call("group_members", json!({"group": id})).await?;
    ensure!(
        members.as_array().map(Vec::len) == Some(2),
        "members: {members}"
    );
    Ok(id)
}

async fn messages(alice: &mut Peer, bob: &mut Peer, group: u64) -> anyhow::Result<()> {
    for p in [&mut *alice, &mut *bob] {
        p.send(&login_frame(p.id, &p.token)).await?;
        let ok = p.recv().await?;
        ensure!(
            ok.from_user_id == KEEP_ALIVE && ok.content == "SUCCESS",
            "login: {ok:?}"
        );
    }
    alice
        .send(&alice.text(bob.id, ChatType::Single, "a1", 2, "hello bob"))
        .await?;
    expect_ack(alice, "a1", 2, 1).await?;
    let got = bob.recv().await?;
    ensure!(
        got.id == "a1" && got.content == "hello bob" && got.from_user_id == alice.id.to_string(),
        "bob's delivery: {got:?}"
    );
    let read = Msg {
        id: "a1".to_owned(),
        status: MsgStatus::Read as i32,
        from_user_id: bob.id.to_string(),
        to_user_id: alice.id.to_string(),
        chat_type: ChatType::Single as i32,
        ..Msg::default()
    };
    bob.send(&read).await?;
    let receipt = alice.recv().await?;
    ensure!(
        receipt.id == "a1" && receipt.status == MsgStatus::Read as i32,
        "alice's receipt: {receipt:?}"
    );

    bob.send(&bob.text(group, ChatType::Group, "b1", 2, "hello team"))
        .await?;
    expect_ack(bob, "b1", 2, 1).await?;
    let got = alice.recv().await?;
    ensure!(
        got.id == "b1" && got.content == "hello team" && got.to_user_id == group.to_string(),
        "alice's group delivery: {got:?}"
    );
    Ok(())
}

async fn expect_ack(p: &mut Peer, id: &str, seq: u32, conv_seq: u64) -> anyhow::Result<()> {
    let ack = p.recv().await?;
    ensure!(
        ack.id == id
            && ack.seq == seq
            && ack.conv_seq == conv_seq
            && ack.status == MsgStatus::Sent as i32
            && ack.msg_type != MsgType::Notify as i32,
        "{}: want the ack of {id:?}, got {ack:?}",
        p.name
    );
    Ok(())
}

async fn history(alice: &mut Peer, bob: &mut Peer, group: u64) -> anyhow::Result<()> {
    let direct = alice.call("history", json!({"peer": bob.id})).await?;
    ensure!(
        direct[0]["id"] == "a1" && direct[0]["status"] == "READ" && direct[1].is_null(),
        "alice's history with bob: {direct}"
    );
    let team = bob
        .call("history", json!({"peer": group, "group": true}))
        .await?;
    ensure!(
        team[0]["content"] == "hello team" && team[0]["conv_seq"] == 1,
        "the group's history: {team}"
    );
    let after = bob
        .call("history", json!({"peer": group, "group": true, "after": 1}))
        .await?;
    ensure!(
        after.as_array().is_some_and(Vec::is_empty),
        "after 1: {after}"
    );
    let stranger = bob.call_err("history", json!({"peer": 424242})).await?;
    ensure!(
        stranger.contains("not found"),
        "history with nobody: {stranger}"
    );
    Ok(())
}
