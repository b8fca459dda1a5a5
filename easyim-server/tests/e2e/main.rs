//! The `easyim` server end to end over real sockets: every transport of the IM port, the error
//! rows of protocol.md section 6, restarts on the same folder, and the `easyim` binary itself.

#[path = "../support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

mod binary;
mod errors;
mod messages;
mod restart;
mod transports;
