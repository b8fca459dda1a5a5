//! The checks of the message scenarios: the format of a bench message (`<sender>-<n>` with
//! its send time in the content), what each connection saw, and the final accounting.
//!
//! While the run goes, each frame is checked as it arrives: a known id, an intact content, a
//! conv_seq and status set, `conv_seq` strictly increasing per conversation, no message acked
//! or delivered twice. After the drain, every acked message must have been delivered exactly
//! once to every connection it is for, with the conv_seq of its ack; nothing delivered that
//! was never acked or to a connection it was not for. A connection the server closed misses
//! what came after legitimately: its missing deliveries are counted apart, not as violations.

use std::collections::HashMap;

use easyim_proto::{ChatType, Msg, MsgStatus, MsgType};

use crate::hist::Hist;
use crate::problems::Problems;

/// The content of message `id` sent at `t_us`: `<id>|<t_us>|` padded with `x` to `size`.
pub(crate) fn content_for(id: &str, t_us: u64, size: usize) -> String {
    let mut s = format!("{id}|{t_us}|");
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Parses `"<sender>-<n>"`.
fn parse_id(id: &str) -> Option<(u32, usize)> {
    let (a, b) = id.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Send time (µs since start) from a content, if it is the one made for `id`.
fn parse_content(id: &str, content: &str, size: usize) -> Option<u64> {
    let rest = content.strip_prefix(id)?.strip_prefix('|')?;
    let (t, _) = rest.split_once('|')?;
    if content.len() != size.max(id.len() + t.len() + 2) {
        return None;
    }
    t.parse().ok()
}

/// What a receiving connection saw, per sender: the conv_seq of message n (0: not seen).
#[derive(Debug)]
pub(crate) struct RecvLog {
    pub(crate) by_sender: HashMap<u32, Vec<u64>>,
    /// Send to delivery.
    pub(crate) lat: Hist,
}

/// What a sending connection saw: the conv_seq of the ack of message n (0: not acked).
#[derive(Debug)]
pub(crate) struct SendLog {
    pub(crate) acks: Vec<u64>,
    /// Send to ack.
    pub(crate) lat: Hist,
}

/// What a frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The first ack of one of this connection's own messages.
    Ack,
    /// The first delivery of a message from someone else.
    Delivery,
    /// Anything else (events, rejected or repeated frames).
    Other,
}

/// One connection's checks as its frames arrive.
#[derive(Debug)]
pub(crate) struct ConnCheck {
    me: String,
    own_sender: Option<u32>,
    size: usize,
    pub(crate) log: RecvLog,
    pub(crate) send_log: Option<SendLog>,
    last_seq: HashMap<String, u64>,
}

/// Records `seq` at `v[n]`; false if something was there already.
fn record_once(v: &mut Vec<u64>, n: usize, seq: u64) -> bool {
    if v.len() <= n {
        v.resize(n + 1, 0);
    }
    if v[n] != 0 {
        return false;
    }
    v[n] = seq.max(1);
    true
}

impl ConnCheck {
    /// The checks of user `me`'s connection, sender number `own_sender` if it sends.
    pub(crate) fn new(me: String, own_sender: Option<u32>, size: usize) -> Self {
        ConnCheck {
            me,
            own_sender,
            size,
            log: RecvLog {
                by_sender: HashMap::new(),
                lat: Hist::new(),
            },
            send_log: own_sender.map(|_| SendLog {
                acks: Vec::new(),
                lat: Hist::new(),
            }),
            last_seq: HashMap::new(),
        }
    }

    /// Checks one frame that arrived at `now_us` (µs since the start of the run).
    pub(crate) fn frame(&mut self, m: &Msg, now_us: u64, problems: &Problems) -> Seen {
        let me = &self.me;
        if m.msg_type == MsgType::Notify as i32 {
            problems.error(format!("user {me}: NOTIFY {}", m.content));
            return Seen::Other;
        }
        if m.msg_type == MsgType::Event as i32 {
            return Seen::Other;
        }
        let Some((sender, n)) = parse_id(&m.id) else {
            problems.violation(format!("user {me}: frame with an unknown id {:?}", m.id));
            return Seen::Other;
        };
        let t_sent = parse_content(&m.id, &m.content, self.size);
        if t_sent.is_none() {
            problems.violation(format!(
                "user {me}: message {} has a corrupted content",
                m.id
            ));
        }
        if m.conv_seq == 0 || m.status != MsgStatus::Sent as i32 {
            problems.violation(format!(
                "user {me}: message {} with conv_seq {} status {}",
                m.id, m.conv_seq, m.status
            ));
        }
        let lat = t_sent.map(|t| now_us.saturating_sub(t));
        if m.from_user_id == *me && Some(sender) == self.own_sender {
            self.ack(m, n, lat, problems)
        } else {
            self.delivery(m, sender, n, lat, problems)
        }
    }

    /// An ack of one of our own messages.
    fn ack(&mut self, m: &Msg, n: usize, lat: Option<u64>, problems: &Problems) -> Seen {
        let sl = self.send_log.as_mut().expect("a sender has a send log");
        if !record_once(&mut sl.acks, n, m.conv_seq) {
            problems.violation(format!("user {}: message {} acked twice", self.me, m.id));
            return Seen::Other;
        }
        if let Some(l) = lat {
            sl.lat.record(l);
        }
        Seen::Ack
    }

    /// A delivery of someone else's message.
    fn delivery(
        &mut self,
        m: &Msg,
        sender: u32,
        n: usize,
        lat: Option<u64>,
        problems: &Problems,
    ) -> Seen {
        let me = &self.me;
        let conv = if m.chat_type == ChatType::Group as i32 {
            &m.to_user_id
        } else {
            &m.from_user_id
        };
        let last = self.last_seq.entry(conv.clone()).or_insert(0);
        if m.conv_seq <= *last {
            problems.violation(format!(
                "user {me}: conversation {conv}: conv_seq {} after {}",
                m.conv_seq, *last
            ));
        }
        *last = m.conv_seq;
        let v = self.log.by_sender.entry(sender).or_default();
        if !record_once(v, n, m.conv_seq) {
            problems.violation(format!("user {me}: message {} delivered twice", m.id));
            return Seen::Other;
        }
        if let Some(l) = lat {
            self.log.lat.record(l);
        }
        Seen::Delivery
    }
}

/// What one receiving connection was to get and what it got, for the final accounting.
#[derive(Debug)]
pub(crate) struct Received<'a> {
    pub(crate) user: &'a str,
    /// Sender numbers whose messages it must receive.
    pub(crate) expects: &'a [u32],
    pub(crate) log: &'a RecvLog,
    /// The server closed it before the end of the run.
    pub(crate) closed: bool,
}

/// The final accounting of a run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Acked messages.
    pub(crate) acked: u64,
    /// Acked deliveries that never reached a connection that stayed open (violations).
    pub(crate) missing: u64,
    /// Acked deliveries that never reached a connection the server closed (legitimate).
    pub(crate) missing_disconnected: u64,
}

/// Compares every expected delivery with the acks; counts violations into `problems`.
pub(crate) fn tally(
    received: &[Received<'_>],
    send_logs: &HashMap<u32, SendLog>,
    problems: &Problems,
) -> Tally {
    let mut t = Tally {
        acked: send_logs
            .values()
            .map(|sl| sl.acks.iter().filter(|&&a| a != 0).count() as u64)
            .sum(),
        ..Tally::default()
    };
    let (mut mismatched, mut unacked, mut stray) = (0u64, 0u64, 0u64);
    let mut first_missing = None;
    for c in received {
        for (s, v) in &c.log.by_sender {
            if !c.expects.contains(s) {
                stray += v.iter().filter(|&&x| x != 0).count() as u64;
            }
        }
        for s in c.expects {
            let acks = send_logs.get(s).map(|l| &l.acks[..]).unwrap_or(&[]);
            let got = c.log.by_sender.get(s).map(|v| &v[..]).unwrap_or(&[]);
            for n in 0..acks.len().max(got.len()) {
                let a = acks.get(n).copied().unwrap_or(0);
                let g = got.get(n).copied().unwrap_or(0);
                match (a, g) {
                    (0, 0) => {}
                    // Stays pending for the next login.
                    (_, 0) if c.closed => t.missing_disconnected += 1,
                    (_, 0) => {
                        t.missing += 1;
                        first_missing.get_or_insert(format!("{s}-{n} to user {}", c.user));
                    }
                    (0, _) => unacked += 1,
                    (a, g) if a != g => mismatched += 1,
                    _ => {}
                }
            }
        }
    }
    problems.violations_n(
        t.missing,
        format!(
            "{} acked deliveries never arrived (first: {})",
            t.missing,
            first_missing.unwrap_or_default()
        ),
    );
    problems.violations_n(
        mismatched,
        format!("{mismatched} deliveries with a conv_seq other than their ack's"),
    );
    problems.violations_n(
        unacked,
        format!("{unacked} deliveries of messages never acked"),
    );
    problems.violations_n(
        stray,
        format!("{stray} deliveries to a connection they were not for"),
    );
    t
}
