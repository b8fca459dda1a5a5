//! The baseline: a bare tokio forwarder of the same frames, in this process, and the seeder
//! that makes up its users and groups.
//!
//! It answers the login with SUCCESS, gives each conversation a counter (so the checks pass),
//! forwards each chat frame to the recipient's connections and echoes it to the sender as the
//! ack. No validation, no storage, no auth: the bare limit of the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use easyim_proto::{frames, ChatType, Encoded, Format, FramedCodec, Msg, MsgStatus, KEEP_ALIVE};
use futures::{SinkExt, StreamExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::args::Fault;
use crate::seed::{Seeder, User};

/// A connection's outgoing queue. Unbounded on purpose: the forwarder is the bare limit,
/// with nothing that could slow it down, not a server to copy.
type Queue = mpsc::UnboundedSender<Arc<Encoded>>;

/// A forwarder connection: its number and its outgoing queue.
type FwdConn = (u64, Queue);

/// Who is connected, the groups the seeder made, and each conversation's counter.
#[derive(Debug, Default)]
struct FwdState {
    conns: HashMap<String, Vec<FwdConn>>,
    groups: HashMap<String, Vec<String>>,
    convs: HashMap<String, u64>,
}

/// The forwarder, shared by its connections.
#[derive(Debug, Default)]
pub(crate) struct Forwarder {
    state: Mutex<FwdState>,
    next_conn: AtomicU64,
    fault: Fault,
    /// Chat frames forwarded so far (every 1000th is the faulty one).
    forwarded: AtomicU64,
}

impl Forwarder {
    /// Listens on 127.0.0.1:0 and serves every connection; returns the forwarder and its port.
    pub(crate) async fn start(fault: Fault) -> Result<(Arc<Self>, SocketAddr)> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let fwd = Arc::new(Forwarder {
            fault,
            ..Forwarder::default()
        });
        let f = fwd.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let f = f.clone();
                tokio::spawn(async move {
                    let _ = f.serve(s).await;
                });
            }
        });
        Ok((fwd, addr))
    }

    /// One connection: the login, then heartbeats and chat frames until it closes.
    async fn serve(self: Arc<Self>, s: TcpStream) -> Result<()> {
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        let mut rd = FramedRead::new(r, FramedCodec::default());
        let wr = FramedWrite::new(w, FramedCodec::default());
        let Some(first) = rd.next().await else {
            return Ok(());
        };
        let (login, format) = first?;
        if login.to_user_id != KEEP_ALIVE {
            return Ok(());
        }
        let uid = login.from_user_id.clone();
        let me = self.next_conn.fetch_add(1, Relaxed);
        let (qtx, qrx) = mpsc::unbounded_channel::<Arc<Encoded>>();
        qtx.send(Arc::new(Encoded::new(frames::login_success(
            &uid, &login.id, login.seq,
        ))))?;
        self.state
            .lock()
            .unwrap()
            .conns
            .entry(uid.clone())
            .or_default()
            .push((me, qtx.clone()));
        let writer = tokio::spawn(write_loop(wr, qrx, format));
        while let Some(Ok((m, _))) = rd.next().await {
            if m.to_user_id == KEEP_ALIVE {
                let _ = qtx.send(Arc::new(Encoded::new(frames::heartbeat_reply(
                    &uid, &m.id, m.seq,
                ))));
                continue;
            }
            self.forward(m, &uid, me, &qtx);
        }
        if let Some(v) = self.state.lock().unwrap().conns.get_mut(&uid) {
            v.retain(|(id, _)| *id != me);
        }
        drop(qtx);
        let _ = writer.await;
        Ok(())
    }

    /// Numbers a chat frame in its conversation, hands it to every recipient connection but
    /// the sender's own (misbehaving if asked to), and echoes it to the sender as the ack.
    fn forward(&self, mut m: Msg, uid: &str, me: u64, qtx: &Queue) {
        m.status = MsgStatus::Sent as i32;
        m.access_token.clear();
        m.timestamp = 0;
        let group = m.chat_type == ChatType::Group as i32;
        let mut st = self.state.lock().unwrap();
        let conv = if group {
            m.to_user_id.clone()
        } else if m.from_user_id < m.to_user_id {
            format!("{}:{}", m.from_user_id, m.to_user_id)
        } else {
            format!("{}:{}", m.to_user_id, m.from_user_id)
        };
        let c = st.convs.entry(conv).or_insert(0);
        *c += 1;
        m.conv_seq = *c;
        let faulty =
            self.fault != Fault::None && self.forwarded.fetch_add(1, Relaxed) % 1000 == 999;
        if faulty && self.fault == Fault::Reorder && m.conv_seq > 1 {
            m.conv_seq -= 1;
        }
        let recipients: Vec<String> = if group {
            st.groups.get(&m.to_user_id).cloned().unwrap_or_default()
        } else {
            vec![m.to_user_id.clone(), uid.to_owned()]
        };
        let e = Arc::new(Encoded::new(m));
        for r in &recipients {
            for (id, q) in st.conns.get(r).into_iter().flatten() {
                if *id == me {
                    continue;
                }
                if !(faulty && self.fault == Fault::Drop) {
                    let _ = q.send(e.clone());
                }
                if faulty && self.fault == Fault::Dup {
                    let _ = q.send(e.clone());
                }
            }
        }
        drop(st);
        let _ = qtx.send(e); // the ack: the same frame, same seq
    }
}

/// Writes what a connection's queue yields, up to 257 frames per flush.
async fn write_loop(
    mut wr: FramedWrite<OwnedWriteHalf, FramedCodec>,
    mut qrx: mpsc::UnboundedReceiver<Arc<Encoded>>,
    format: Format,
) -> Result<()> {
    while let Some(m) = qrx.recv().await {
        wr.feed(m.payload(format).clone()).await?;
        let mut n = 0;
        while n < 256 {
            match qrx.try_recv() {
                Ok(m) => wr.feed(m.payload(format).clone()).await?,
                Err(_) => break,
            }
            n += 1;
        }
        SinkExt::<Bytes>::flush(&mut wr).await?;
    }
    Ok(())
}

/// Makes up users (no tokens needed) and registers groups with the forwarder.
#[derive(Debug)]
pub(crate) struct BaselineSeeder {
    pub(crate) fwd: Arc<Forwarder>,
    pub(crate) next: AtomicU64,
}

impl Seeder for BaselineSeeder {
    async fn users(&self, n: usize) -> Result<Vec<User>> {
        Ok((0..n)
            .map(|_| User {
                id: (1_000_000 + self.next.fetch_add(1, Relaxed)).to_string(),
                token: "baseline".into(),
            })
            .collect())
    }

    async fn group(&self, members: &[User]) -> Result<String> {
        let id = format!("9{}", 1_000_000 + self.next.fetch_add(1, Relaxed));
        self.fwd
            .state
            .lock()
            .unwrap()
            .groups
            .insert(id.clone(), members.iter().map(|u| u.id.clone()).collect());
        Ok(id)
    }
}
