//! Run with:
//!
//! ```text
//! cargo run -p easyim-examples --bin chat -- register alice secret1
//! cargo run -p easyim-examples --bin chat -- --transport ws login bob secret2
//! cargo run -p easyim-examples --bin chat -- --tls --ca cert.pem --im localhost:8888 \
//!     --api localhost:8889 login bob secret2
//! ```
//!
//! A terminal chat client for an easyim server (the replacement for the original Go easyim's
//! `examples/client.go`). It registers or logs in over the HTTP API, connects to the IM port
//! over framed protobuf TCP or WebSocket (with `--tls`, both over TLS, trusting the PEM file
//! `--ca`), logs in with the KEEP_ALIVE frame and heartbeats
//! every 30 seconds. Then it reads commands from stdin:
//!
//! ```text
//! /to USER_ID      talk to a user          /group GROUP_ID   talk in a group
//! any other text   send it to the current peer
//! /read            mark the newest message of the current conversation as read
//! /quit            leave
//! ```
//!
//! It prints acks, deliveries, receipts and errors as they come, answers each delivery with an
//! ARRIVED receipt, and keeps every message that was sent but not acked: when the connection
//! drops it reconnects with backoff and resends them with the same id, which the server turns
//! into an ack of the stored copy if the message had got through (protocol.md section 4).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use easyim_proto::{
    decode_as, ChatType, Encoded, Format, FramedCodec, Msg, MsgStatus, MsgType, KEEP_ALIVE,
};
use futures::{Sink, SinkExt, Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::codec::Framed;

const HEARTBEAT: Duration = Duration::from_secs(30);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A terminal chat client for easyim.
#[derive(Debug, Parser)]
struct Args {
    /// The HTTP API address.
    #[arg(long, default_value = "127.0.0.1:8889")]
    api: String,
    /// The IM address.
    #[arg(long, default_value = "127.0.0.1:8888")]
    im: String,
    /// How to reach the IM port.
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    transport: Transport,
    /// Speak TLS to both ports (https:// and wss:// or TLS framed TCP).
    #[arg(long, requires = "ca")]
    tls: bool,
    /// With `--tls`: the PEM certificate(s) to trust (the server's own, or its CA's).
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Transport {
    /// Framed TCP: a 4-byte length, then a protobuf `Msg`.
    Tcp,
    /// WebSocket, one binary protobuf `Msg` per message.
    Ws,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account, then chat.
    Register {
        /// The login name to create.
        account: String,
        /// Its password.
        password: String,
    },
    /// Log in to an existing account, then chat.
    Login {
        /// The login name.
        account: String,
        /// Its password.
        password: String,
    },
}

/// A connection's byte stream: a socket, or TLS over one.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Io for S {}

/// The sending half of a connection, whatever the transport.
type Tx = Pin<Box<dyn Sink<Msg, Error = anyhow::Error> + Send>>;
/// The receiving half of a connection, whatever the transport.
type Rx = Pin<Box<dyn Stream<Item = anyhow::Result<Msg>> + Send>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (path, account, password) = match &args.command {
        Command::Register { account, password } => ("/api/user/register", account, password),
        Command::Login { account, password } => ("/api/user/login", account, password),
    };
    let (me, token) = http_login(&args, path, account, password).await?;
    println!("* {account} is user {me}. Commands: /to USER_ID, /group GROUP_ID, /read, /quit");

    // Stdin is read by its own task so that lines typed while reconnecting wait in the channel.
    let (lines_tx, lines) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            if lines_tx.send(line).await.is_err() {
                break;
            }
        }
    });

    let mut chat = Chat {
        me,
        token,
        lines,
        peer: None,
        next_seq: 1,
        unacked: BTreeMap::new(),
        newest: HashMap::new(),
        seen: HashSet::new(),
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect(&args, &chat.me, &chat.token).await {
            Ok((tx, rx)) => {
                backoff = Duration::from_secs(1);
                match chat.run(tx, rx).await {
                    Ok(Quit) => return Ok(()),
                    Err(e) => println!("* connection lost: {e:#}"),
                }
            }
            // The token expired or was revoked: get a fresh one with the password.
            Err(e) if e.to_string().starts_with("E_AUTH") => {
                println!("* {e}; logging in again");
                let (_, token) = http_login(&args, "/api/user/login", account, password).await?;
                chat.token = token;
                continue;
            }
            Err(e) => println!("* cannot connect: {e:#}"),
        }
        println!("* reconnecting in {}s", backoff.as_secs());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// What [`Chat::run`] returns when the user is done (as opposed to a lost connection).
struct Quit;

/// The client's state, which outlives each connection.
struct Chat {
    me: String,
    token: String,
    lines: mpsc::Receiver<String>,
    /// Who plain text goes to: a user (SINGLE) or a group (GROUP).
    peer: Option<(ChatType, String)>,
    next_seq: u32,
    /// Messages sent but not acked yet, by `seq`; resent with the same id after a reconnect.
    unacked: BTreeMap<u32, Msg>,
    /// The newest delivery of each conversation (by chat type and peer id), for `/read`.
    newest: HashMap<(i32, String), Msg>,
    /// Ids already shown: pending messages are pushed again at each login until receipted.
    seen: HashSet<String>,
}

impl Chat {
    /// Chats over one connection until it fails (`Err`) or the user quits.
    async fn run(&mut self, mut tx: Tx, mut rx: Rx) -> anyhow::Result<Quit> {
        for msg in self.unacked.values() {
            println!("* resending #{} ({})", msg.seq, msg.id);
            tx.feed(msg.clone()).await?;
        }
        tx.flush().await?;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        loop {
            tokio::select! {
                frame = rx.next() => match frame {
                    Some(frame) => self.on_frame(frame?, &mut tx).await?,
                    None => bail!("the server closed the connection"),
                },
                line = self.lines.recv() => match line {
                    Some(line) => if self.on_line(line.trim(), &mut tx).await? {
                        let _ = tx.close().await;
                        return Ok(Quit);
                    },
                    None => return Ok(Quit),
                },
                _ = heartbeat.tick() => tx.send(keep_alive(&self.me, "")).await?,
            }
        }
    }

    /// Handles one command line; `true` means quit.
    async fn on_line(&mut self, line: &str, tx: &mut Tx) -> anyhow::Result<bool> {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "" => {}
            "/quit" => return Ok(true),
            "/to" | "/group" if rest.trim().parse::<u64>().is_err() => {
                println!("* usage: {cmd} ID (a decimal id)");
            }
            "/to" => self.switch(ChatType::Single, rest.trim()),
            "/group" => self.switch(ChatType::Group, rest.trim()),
            "/read" => {
                let Some((chat_type, peer)) = &self.peer else {
                    println!("* no conversation yet: /to USER_ID or /group GROUP_ID");
                    return Ok(false);
                };
                match self.newest.get(&(*chat_type as i32, peer.clone())) {
                    Some(newest) => tx.send(receipt(&self.me, newest, MsgStatus::Read)).await?,
                    None => println!("* nothing received in this conversation yet"),
                }
            }
            _ if cmd.starts_with('/') => println!("* unknown command {cmd}"),
            _ => {
                let Some((chat_type, peer)) = &self.peer else {
                    println!("* talk to whom? /to USER_ID or /group GROUP_ID first");
                    return Ok(false);
                };
                let seq = self.next_seq;
                self.next_seq += 1;
                let msg = Msg {
                    // Prefixed with our own id, so no other sender in the conversation uses it.
                    id: format!("{}-{}-{seq}", self.me, unix_ms()),
                    seq,
                    from_user_id: self.me.clone(),
                    to_user_id: peer.clone(),
                    chat_type: *chat_type as i32,
                    msg_type: MsgType::Text as i32,
                    status: MsgStatus::Sent as i32,
                    content: line.to_owned(),
                    ..Msg::default()
                };
                // Kept before it is written: if the write fails, the reconnect resends it.
                self.unacked.insert(seq, msg.clone());
                tx.send(msg).await?;
            }
        }
        Ok(false)
    }

    fn switch(&mut self, chat_type: ChatType, id: &str) {
        let kind = if chat_type == ChatType::Group {
            "group"
        } else {
            "user"
        };
        println!("* talking to {kind} {id}");
        self.peer = Some((chat_type, id.to_owned()));
    }

    /// Handles one frame from the server.
    async fn on_frame(&mut self, msg: Msg, tx: &mut Tx) -> anyhow::Result<()> {
        let status = MsgStatus::try_from(msg.status).unwrap_or(MsgStatus::Fail);
        if msg.msg_type == MsgType::Event as i32 && msg.from_user_id == KEEP_ALIVE {
            return Ok(()); // a heartbeat answer
        }
        if msg.msg_type == MsgType::Notify as i32 {
            println!("! {}", msg.content);
            // An error about one of our messages: only a storage failure or the rate limit is
            // worth a resend; any other error would come back the same.
            let retry = ["E_INTERNAL", "E_RATE_LIMIT"]
                .iter()
                .any(|c| msg.content.starts_with(c));
            if !retry && self.unacked.get(&msg.seq).is_some_and(|m| m.id == msg.id) {
                self.unacked.remove(&msg.seq);
                println!("* message #{} was not sent", msg.seq);
            }
            return Ok(());
        }
        if matches!(status, MsgStatus::Arrived | MsgStatus::Read) {
            let what = if status == MsgStatus::Read {
                "read"
            } else {
                "arrived"
            };
            println!("✓ {} {what} at {}", msg.id, msg.from_user_id);
            return Ok(());
        }
        if msg.from_user_id == self.me && self.unacked.get(&msg.seq).is_some_and(|m| m.id == msg.id)
        {
            self.unacked.remove(&msg.seq);
            println!("✓ #{} sent, conv_seq {}", msg.seq, msg.conv_seq);
            return Ok(());
        }
        // A delivery: someone else's message, or ours from another device.
        let group = msg.chat_type == ChatType::Group as i32;
        let conv_peer = if group || msg.from_user_id == self.me {
            msg.to_user_id.clone()
        } else {
            msg.from_user_id.clone()
        };
        if self.seen.insert(msg.id.clone()) {
            let place = if group {
                format!(" in group {}", msg.to_user_id)
            } else {
                String::new()
            };
            println!(
                "[{}] {}{place}: {}",
                msg.conv_seq, msg.from_user_id, msg.content
            );
        }
        if msg.from_user_id != self.me {
            tx.send(receipt(&self.me, &msg, MsgStatus::Arrived)).await?;
            self.newest.insert((msg.chat_type, conv_peer), msg);
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch (for unique message ids).
fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The KEEP_ALIVE event: with a token it is the login, without one a heartbeat.
fn keep_alive(me: &str, token: &str) -> Msg {
    Msg {
        from_user_id: me.to_owned(),
        to_user_id: KEEP_ALIVE.to_owned(),
        msg_type: MsgType::Event as i32,
        access_token: token.to_owned(),
        content: "chat".to_owned(),
        ..Msg::default()
    }
}

/// A receipt for `msg` (and, being cumulative, everything before it in its conversation).
fn receipt(me: &str, msg: &Msg, status: MsgStatus) -> Msg {
    let group = msg.chat_type == ChatType::Group as i32;
    Msg {
        id: msg.id.clone(),
        from_user_id: me.to_owned(),
        // The original sender for a 1:1 message, the group for a group message.
        to_user_id: if group {
            msg.to_user_id.clone()
        } else {
            msg.from_user_id.clone()
        },
        chat_type: msg.chat_type,
        msg_type: msg.msg_type,
        status: status as i32,
        ..Msg::default()
    }
}

/// Opens the IM connection and logs in; an `E_AUTH...` error means the token is bad.
async fn connect(args: &Args, me: &str, token: &str) -> anyhow::Result<(Tx, Rx)> {
    let tls = connector(args)?;
    let protobuf = |m: Msg| Encoded::new(m).payload(Format::Protobuf).clone();
    let (mut tx, mut rx): (Tx, Rx) = match args.transport {
        Transport::Tcp => {
            let socket = open(&args.im, tls.as_ref()).await?;
            let (sink, stream) = Framed::new(socket, FramedCodec::default()).split::<Bytes>();
            let sink = sink.with(move |m| async move { anyhow::Ok(protobuf(m)) });
            let stream = stream.map(|r| r.map(|(m, _)| m).map_err(anyhow::Error::from));
            (Box::pin(sink), Box::pin(stream))
        }
        Transport::Ws => {
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            let url = format!("{scheme}://{}/", args.im);
            let socket = open(&args.im, tls.as_ref()).await?;
            let (ws, _) = tokio_tungstenite::client_async(url, socket).await?;
            let (sink, stream) = ws.split();
            let sink =
                sink.with(move |m| async move { anyhow::Ok(WsMessage::Binary(protobuf(m))) });
            let stream = stream.filter_map(|r| async move {
                match r {
                    Ok(WsMessage::Binary(b)) => {
                        Some(decode_as(&b, Format::Protobuf).map_err(Into::into))
                    }
                    Ok(WsMessage::Text(t)) => {
                        Some(decode_as(t.as_bytes(), Format::Json).map_err(Into::into))
                    }
                    Ok(_) => None, // ping, pong, close: tungstenite answers them itself
                    Err(e) => Some(Err(e.into())),
                }
            });
            (Box::pin(sink), Box::pin(stream))
        }
    };
    tx.send(keep_alive(me, token)).await?;
    let answer = tokio::time::timeout(LOGIN_TIMEOUT, rx.next())
        .await
        .context("no answer to the login")?
        .context("the server closed the connection")??;
    if answer.msg_type == MsgType::Notify as i32 {
        bail!("{}", answer.content);
    }
    println!("* connected over {:?} to {}", args.transport, args.im);
    Ok((tx, rx))
}

/// Registers or logs in over the HTTP API; returns the user id and an access token.
async fn http_login(
    args: &Args,
    path: &str,
    account: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let api = args.api.as_str();
    let socket = open(api, connector(args)?.as_ref())
        .await
        .with_context(|| format!("connecting to the API at {api}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(socket)).await?;
    tokio::spawn(conn);
    let body = serde_json::json!({ "account": account, "password": password }).to_string();
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, api)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    let envelope: serde_json::Value =
        serde_json::from_slice(&body).context("a response that is not JSON")?;
    let field = |name: &str| envelope["data"][name].as_str().map(str::to_owned);
    match (
        envelope["code"].as_u64(),
        field("id"),
        field("access_token"),
    ) {
        (Some(200), Some(id), Some(token)) => Ok((id, token)),
        _ => bail!(
            "{path}: {} {}",
            envelope["code"],
            envelope["msg"].as_str().unwrap_or("?")
        ),
    }
}

/// With `--tls`, a TLS client that trusts the certificates of the PEM file `--ca` only.
fn connector(args: &Args) -> anyhow::Result<Option<TlsConnector>> {
    let (true, Some(ca)) = (args.tls, &args.ca) else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore::empty();
    let read = |ca: &Path| format!("reading --ca {}", ca.display());
    for cert in CertificateDer::pem_file_iter(ca).with_context(|| read(ca))? {
        roots.add(cert.with_context(|| read(ca))?)?;
    }
    if roots.is_empty() {
        bail!("--ca {} holds no PEM certificate", ca.display());
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Some(TlsConnector::from(Arc::new(config))))
}

/// Connects to `addr` (`host:port`), over TLS for the name `host` if `tls` is given.
async fn open(addr: &str, tls: Option<&TlsConnector>) -> anyhow::Result<Box<dyn Io>> {
    let socket = TcpStream::connect(addr).await?;
    let Some(tls) = tls else {
        return Ok(Box::new(socket));
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host} is not a host name for TLS"))?;
    Ok(Box::new(tls.connect(name, socket).await?))
}
