//! The engine against protocol.md, without sockets: each test client is an `mpsc` channel of
//! decoded frames going in and the connection's `Outbox` coming out. One test per flow and per
//! error code; timeouts run on paused time.

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use easyim_core::{EngineConfig, Grant, JwtAuth, Storage};
use easyim_proto::{ChatType, CodecError, Format, Msg, MsgStatus, MsgType};

mod after_login;
mod closed;
mod kept;
mod login;
mod messages;
mod order;
mod receipts;
