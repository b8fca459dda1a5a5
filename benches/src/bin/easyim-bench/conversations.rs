//! The conversations scenario: how fast one user's conversation list is read.
//!
//! Seeds one user in `--convs` conversations: `--conv-peers` 1:1 conversations (each peer
//! registered and sending it one message) and groups for the rest (created by the first peer
//! with the user in them, one message each from that peer). Then reads the user's whole list
//! with `GET /api/conversations`, `--page` entries a page, `--rounds` times, one request at a
//! time, and reports pages/s and the latency of the first and of every page. Checks each
//! walk: every conversation exactly once, each with 1 unread message, `total_unread` equal
//! to `--convs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};
use hyper::StatusCode;
use serde_json::Value;

use crate::args::Args;
use crate::hist::Hist;
use crate::http;
use crate::problems::Problems;
use crate::procfs::CpuWindow;
use crate::report::Report;
use crate::seed::{Seeder, User};
use crate::transport::{connect_login, Target, Tx};

/// Sends one text from `from` to each of `to` over one connection and waits for every ack.
async fn send_one_each(t: &Target, from: &User, to: &[String], chat: ChatType) -> Result<()> {
    let (mut tx, mut rx) = connect_login(t, &from.id, &from.token).await?;
    for (i, peer) in to.iter().enumerate() {
        feed(&mut tx, from, peer, chat, i).await?;
    }
    tx.flush().await?;
    let mut acked = 0;
    while acked < to.len() {
        let m = tokio::time::timeout(Duration::from_secs(30), rx.next())
            .await
            .map_err(|_| anyhow!("no ack in 30 s"))?
            .ok_or_else(|| anyhow!("closed while seeding"))??;
        if m.from_user_id == from.id && m.status == MsgStatus::Sent as i32 && m.conv_seq > 0 {
            acked += 1;
        }
    }
    Ok(())
}

async fn feed(tx: &mut Tx, from: &User, to: &str, chat: ChatType, i: usize) -> Result<()> {
    tx.feed(&Msg {
        id: format!("{}-seed-{i}", from.id),
        seq: i as u32 + 1,
        from_user_id: from.id.clone(),
        to_user_id: to.to_owned(),
        chat_type: chat as i32,
        msg_type: MsgType::Text as i32,
        status: MsgStatus::Sent as i32,
        content: "hello".to_owned(),
        ..Msg::default()
    })
    .await
}

/// Reads the whole list once; records each page's latency; returns the peer ids in order and
/// the `total_unread` of the first page.
async fn walk(
    args: &Args,
    me: &User,
    first: &mut Hist,
    all: &mut Hist,
) -> Result<(Vec<String>, u64)> {
    let mut cursor = String::new();
    let mut seen = Vec::new();
    let mut total = None;
    loop {
        let path = format!(
            "/api/conversations?access_token={}&limit={}&cursor={cursor}",
            me.token, args.page
        );
        let t0 = Instant::now();
        let (status, body) = http::get_raw(args.api, &path).await?;
        let us = t0.elapsed().as_micros() as u64;
        if status != StatusCode::OK {
            bail!("{status}: {}", String::from_utf8_lossy(&body));
        }
        all.record(us);
        if total.is_none() {
            first.record(us);
        }
        let v: Value = serde_json::from_slice(&body)?;
        let data = &v["data"];
        total.get_or_insert(data["total_unread"].as_u64().unwrap_or(0));
        for it in data["items"].as_array().context("no items")? {
            if it["unread"] != 1 {
                bail!("an entry without its 1 unread message: {it}");
            }
            seen.push(it["peer_id"].as_str().unwrap_or_default().to_owned());
        }
        cursor = data["cursor"].as_str().unwrap_or_default().to_owned();
        if cursor.is_empty() {
            return Ok((seen, total.unwrap_or(0)));
        }
    }
}

/// Runs the conversations scenario against the server.
pub(crate) async fn run(
    args: &Args,
    target: &Target,
    seeder: &impl Seeder,
    pid: Option<u32>,
) -> Result<Report> {
    let peers_n = args.conv_peers.clamp(1, args.convs);
    let users = seeder.users(peers_n + 1).await?;
    let (me, peers) = (&users[0], &users[1..]);
    let started = Instant::now();
    for p in peers {
        send_one_each(target, p, std::slice::from_ref(&me.id), ChatType::Single).await?;
    }
    let mut groups = Vec::with_capacity(args.convs - peers_n);
    for _ in peers_n..args.convs {
        groups.push(seeder.group(&[peers[0].clone(), me.clone()]).await?);
    }
    send_one_each(target, &peers[0], &groups, ChatType::Group).await?;
    eprintln!(
        "seeded {} conversations in {:.1} s",
        args.convs,
        started.elapsed().as_secs_f64()
    );

    let problems = Problems::default();
    let cpu = CpuWindow::start(pid);
    let (mut first, mut all) = (Hist::new(), Hist::new());
    let mut pages = 0u64;
    let t0 = Instant::now();
    for _ in 0..args.rounds.max(1) {
        match walk(args, me, &mut first, &mut all).await {
            Ok((seen, total)) => {
                pages += seen.len().div_ceil(args.page.max(1)) as u64;
                let distinct: HashSet<&String> = seen.iter().collect();
                if seen.len() != args.convs || distinct.len() != args.convs {
                    problems.violation(format!(
                        "a walk listed {} entries ({} distinct), want {}",
                        seen.len(),
                        distinct.len(),
                        args.convs
                    ));
                }
                if total != args.convs as u64 {
                    problems.violation(format!("total_unread {total}, want {}", args.convs));
                }
            }
            Err(e) => problems.error(format!("GET /api/conversations: {e:#}")),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut r = Report::default();
    cpu.finish(&mut r);
    r.put("conversations", args.convs as f64);
    r.put("page_size", args.page as f64);
    r.put("pages", pages as f64);
    r.put("pages_per_s", pages as f64 / secs);
    r.put("first_page_p50_ms", first.q_ms(0.5));
    r.put("first_page_p99_ms", first.q_ms(0.99));
    r.put("page_p50_ms", all.q_ms(0.5));
    r.put("page_p99_ms", all.q_ms(0.99));
    problems.fill(&mut r);
    Ok(r)
}
