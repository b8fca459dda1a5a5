//! Seeding: users and groups registered through the HTTP API before a run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::http;

/// A registered user and its access token.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) token: String,
}

/// Users and groups, either registered through the HTTP API or made up for the baseline.
pub(crate) trait Seeder {
    /// `n` fresh users.
    async fn users(&self, n: usize) -> Result<Vec<User>>;
    /// A fresh group owned by `members[0]` with all of `members` in it; its id.
    async fn group(&self, members: &[User]) -> Result<String>;
}

/// Registers users and groups on the server, `concurrency` registrations at a time.
#[derive(Debug)]
pub(crate) struct ApiSeeder {
    pub(crate) api: SocketAddr,
    pub(crate) concurrency: usize,
    /// Makes the account names of this run unique on a server that keeps earlier runs'.
    pub(crate) tag: String,
}

/// An id as a string, whether the server sent a string or a number.
fn id_of(d: &Value) -> String {
    d["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| d["id"].to_string())
}

/// Registers `bench<tag>u<i>` and returns it as a user.
async fn register(api: SocketAddr, tag: &str, i: usize) -> Result<User> {
    let account = format!("bench{tag}u{i}");
    let d = http::post(
        api,
        "/api/user/register",
        json!({"account": account, "password": "bench-password", "nickname": account}),
    )
    .await?;
    Ok(User {
        id: id_of(&d),
        token: d["access_token"]
            .as_str()
            .context("no access_token")?
            .to_owned(),
    })
}

impl Seeder for ApiSeeder {
    async fn users(&self, n: usize) -> Result<Vec<User>> {
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let out = Arc::new(Mutex::new(vec![None; n]));
        let mut tasks = Vec::new();
        for _ in 0..self.concurrency.max(1) {
            let (next, out, api, tag) = (next.clone(), out.clone(), self.api, self.tag.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Relaxed) as usize;
                    if i >= n {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let u = register(api, &tag, i).await?;
                    out.lock().unwrap()[i] = Some(u);
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let v: Vec<User> = out.lock().unwrap().drain(..).map(|u| u.unwrap()).collect();
        eprintln!(
            "seeded {n} users in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(v)
    }

    async fn group(&self, members: &[User]) -> Result<String> {
        // The server takes at most this many ids per call: the rest are invited in chunks.
        const IDS_PER_CALL: usize = 200;
        let ids: Vec<&str> = members[1..].iter().map(|u| u.id.as_str()).collect();
        let mut chunks = ids.chunks(IDS_PER_CALL);
        let first = chunks.next().unwrap_or_default();
        let owner = &members[0].token;
        let d = http::post(
            self.api,
            "/api/group/create",
            json!({"access_token": owner, "name": format!("bench{}", self.tag), "member_ids": first}),
        )
        .await?;
        let group = id_of(&d);
        for chunk in chunks {
            http::post(
                self.api,
                "/api/group/invite",
                json!({"access_token": owner, "group_id": group, "user_ids": chunk}),
            )
            .await?;
        }
        Ok(group)
    }
}
