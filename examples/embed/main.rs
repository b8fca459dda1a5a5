//! Run with:
//!
//! ```text
//! cargo run -p easyim-examples --bin embed -- --listen 127.0.0.1:7000
//! cargo run -p easyim-examples --bin embed -- --check-only   # the checks below, then exit
//! ```
//!
//! Then, in two terminals, run `nc 127.0.0.1 7000` and paste the lines it prints: domain calls
//! such as `{"op":"register","account":"carol","password":"carol-pw"}` or
//! `{"op":"friends","token":".."}`, and IM frames (a login frame, then messages).
//!
//! Embedding easyim-core in your own service: this is the path a team takes to put easyim in
//! front of its own database and its own wire, and get the whole domain (accounts, friends,
//! groups, history, messaging) from easyim-core alone. Four pieces:
//!
//! 1. `TableStorage` (`storage.rs`), a `Storage` of its own. It keeps its data the way a
//!    relational schema would (a `users` table, a `messages` table in commit order, an `inbox`
//!    table with one row per pending message and recipient, a `receipts` table with each
//!    reader's furthest receipt per conversation), here as ordered maps under one mutex.
//!    Replace the maps by SQL and the mutex by a transaction and you have a database-backed
//!    storage; every method is one transaction.
//! 2. The storage conformance kit (`easyim_core::testkit::run_all`), run at startup against
//!    fresh instances, so a storage that breaks a contract never serves traffic.
//! 3. A transport of its own (`transport.rs`): JSON lines over TCP. A line with an `"op"` is a
//!    domain call, answered by the `Im` services as the user its token names (`ops.rs`); any
//!    other line is an IM frame for the connection's session, whose frames come back as lines.
//! 4. An end-to-end check of that transport (`check.rs`), in process over pipes, also run at
//!    startup: `--check-only` runs 2 and 4 and exits non-zero on any failure.

mod check;
mod ops;
mod storage;
mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use easyim_core::{random_secret, Auth, EngineConfig, Im, JwtAuth, Registration, Storage};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::storage::TableStorage;
use crate::transport::serve_lines;

/// Most connections served at once; the accept loop waits for a free slot beyond that.
const MAX_CONNECTIONS: usize = 1024;

/// An embedded easyim node with its own storage and a JSON-lines transport.
#[derive(Debug, Parser)]
struct Args {
    /// Where the JSON-lines transport listens.
    #[arg(long, default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
    /// Run the storage conformance kit against `TableStorage` and the domain through the
    /// transport in process, then exit.
    #[arg(long)]
    check_only: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    // A storage that breaks a contract must not serve: the kit panics naming each failed check.
    easyim_core::testkit::run_all(|| async {
        Arc::new(TableStorage::default()) as Arc<dyn Storage>
    })
    .await;
    println!("storage conformance: TableStorage passes every check");
    check::run(&new_im().await?)
        .await
        .context("the domain through the JSON-lines transport")?;
    println!("transport: accounts, friends, groups, messages and history work end to end");
    if args.check_only {
        return Ok(());
    }

    let im = new_im().await?;
    let alice = create_user(&im, "alice").await?;
    let bob = create_user(&im, "bob").await?;

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "JSON lines on {addr}; in two terminals run `nc {} {}` and paste:",
        addr.ip(),
        addr.port()
    );
    for (me, peer) in [(&alice, &bob), (&bob, &alice)] {
        println!(
            "\n# as {} (id {}): a domain call, then the IM login and a message",
            me.0, me.1
        );
        println!(r#"{{"op":"friends","token":"{}"}}"#, me.2);
        println!(
            r#"{{"msg_type":4,"to_user_id":"KEEP_ALIVE","from_user_id":"{}","access_token":"{}","content":"nc"}}"#,
            me.1, me.2
        );
        println!(
            r#"{{"id":"{}-1","seq":1,"from_user_id":"{}","to_user_id":"{}","chat_type":0,"msg_type":0,"status":1,"content":"hi {}"}}"#,
            me.0, me.1, peer.1, peer.0
        );
    }

    serve(im, listener).await;
    Ok(())
}

/// The whole IM on a fresh `TableStorage`.
async fn new_im() -> anyhow::Result<Im> {
    let storage: Arc<dyn Storage> = Arc::new(TableStorage::default());
    let secret = storage.server_secret(&random_secret()).await?;
    let auth: Arc<dyn Auth> = Arc::new(JwtAuth::new(storage.clone(), secret, 7200, 2_592_000));
    Ok(Im::new(storage, auth, EngineConfig::default()))
}

/// Registers `account` (password = account name) and returns its name, id and access token.
async fn create_user(im: &Im, account: &str) -> anyhow::Result<(String, u64, String)> {
    let signed_in = im
        .accounts()
        .register(Registration::new(account, account, ""))
        .await?;
    Ok((
        account.to_owned(),
        signed_in.profile.id,
        signed_in.access.token,
    ))
}

/// Accepts connections until Ctrl-C, then stops the engine (every session gets `E_SHUTDOWN`)
/// and waits a little for the connections to finish.
async fn serve(im: Im, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let socket = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            r = listener.accept() => match r {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let im = im.clone();
        tracker.spawn(async move {
            let (r, w) = socket.into_split();
            serve_lines(im, r, w).await;
            drop(permit);
        });
    }
    println!("stopping");
    im.engine().shutdown();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
}
