//! The one test-support layer of the server's integration tests. Each test file opens with
//! `mod support;` and uses what it needs:
//!
//! - `http`: the one HTTP/1.1 client, over a socket or in-process through the router;
//! - `server`: a whole server in this process, or the API router alone;
//! - `spawn`: the real `easyim` binary on free ports in a folder;
//! - `client`: one IM client for every transport (framed protobuf/JSON, JSON lines, WebSocket),
//!   and `reader`, the task that reads its connection;
//! - `frames`: the messages tests send, and the checks of what comes back;
//! - `accounts`: register, create a group, read a whole history over the API;
//! - `admin`: the server API's token, a server that has it, calls with it;
//! - `tls`: a test certificate, and TLS connections and requests that trust it;
//! - `receiver`: a webhook receiver on a real socket (plain or TLS), and `metrics`, reading
//!   `/metrics`.

// Each test file is its own crate and uses a different part of this module.
#![allow(dead_code, unused_imports, unreachable_pub)]

use std::time::Duration;

mod accounts;
mod admin;
mod client;
mod frames;
mod http;
mod metrics;
mod reader;
mod receiver;
mod server;
mod spawn;
mod tls;

pub use accounts::*;
pub use admin::*;
pub use client::*;
pub use frames::*;
pub use http::*;
pub use metrics::*;
pub use receiver::*;
pub use server::*;
pub use spawn::*;
pub use tls::*;

/// How long a test waits for any one answer: generous, for a loaded machine. Only a failing
/// test ever waits this long.
pub const WAIT: Duration = Duration::from_secs(30);
