//! The command line: what to drive, with what load, and how to report it.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};

/// The generator's options (see BENCHMARKS.md, "What the generator does").
#[derive(Parser, Debug, Clone)]
#[command(name = "easyim-bench", about = "Load generator and checker for easyim")]
pub(crate) struct Args {
    /// Run the scenario against a running server (`--im`, `--api`).
    #[arg(long)]
    pub(crate) server: bool,
    /// Run the scenario against a bare in-process tokio forwarder of the same frames.
    #[arg(long)]
    pub(crate) baseline: bool,
    /// The server's IM port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    pub(crate) im: SocketAddr,
    /// The server's HTTP API port.
    #[arg(long, default_value = "127.0.0.1:8889")]
    pub(crate) api: SocketAddr,
    /// The IM ports of further nodes of a cluster (comma-separated): connections are spread
    /// over `--im` and these, round robin, so senders and recipients sit on different nodes.
    #[arg(long, value_delimiter = ',')]
    pub(crate) nodes: Vec<SocketAddr>,
    /// The server's process id: RSS (idle, accounts) and CPU use are read from /proc/<pid>.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// The process ids of the further nodes of `--nodes` (comma-separated): in the direct and
    /// group scenarios `server_cpu_pct` is the sum over `--server-pid` and these.
    #[arg(long, value_delimiter = ',')]
    pub(crate) node_pids: Vec<u32>,
    /// direct, group, idle, login or accounts.
    #[arg(long, value_enum, default_value = "direct")]
    pub(crate) scenario: Scenario,
    /// pb (framed protobuf), json (framed JSON) or ws (WebSocket, binary protobuf).
    #[arg(long, value_enum, default_value = "pb")]
    pub(crate) transport: Transport,
    /// Connect to the IM port over TLS (the server's TLS_CERT_FILE); the API calls that seed
    /// users stay plain.
    #[arg(long, requires = "ca")]
    pub(crate) tls: bool,
    /// With `--tls`: the PEM certificate(s) to trust (the server's certificate itself, or the
    /// CA that signed it).
    #[arg(long)]
    pub(crate) ca: Option<std::path::PathBuf>,
    /// Seconds of load (idle: seconds to hold the connections once all are up).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// direct: sender/receiver pairs.
    #[arg(long, default_value_t = 50)]
    pub(crate) pairs: usize,
    /// Messages in flight (sent, not yet acked) per sender.
    #[arg(long, default_value_t = 32)]
    pub(crate) window: usize,
    /// Content bytes per message.
    #[arg(long, default_value_t = 64)]
    pub(crate) size: usize,
    /// Target messages per second over all senders (0: flat out).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rate: f64,
    /// direct and group: microseconds a slow receiving connection spends after each frame it
    /// reads during the load (phones on bad networks); 0: read at full speed. Senders always
    /// read at full speed, and every connection does while draining.
    #[arg(long, default_value_t = 0)]
    pub(crate) read_delay_us: u64,
    /// direct and group: the fraction of the receiving connections that are slow
    /// (`--read-delay-us`).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) slow_fraction: f64,
    /// group: number of groups.
    #[arg(long, default_value_t = 1)]
    pub(crate) groups: usize,
    /// group: members per group (all online).
    #[arg(long, default_value_t = 500)]
    pub(crate) members: usize,
    /// group: senders per group.
    #[arg(long, default_value_t = 4)]
    pub(crate) senders: usize,
    /// idle: connections to hold; login: 0.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) conns: usize,
    /// idle and login: distinct users the connections log in as (a user may hold many).
    #[arg(long, default_value_t = 100)]
    pub(crate) users: usize,
    /// idle: seconds between heartbeats per connection.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) heartbeat: f64,
    /// login: concurrent open-login-close loops.
    #[arg(long, default_value_t = 64)]
    pub(crate) workers: usize,
    /// accounts: accounts to register, then to log in over HTTP.
    #[arg(long, default_value_t = 2000)]
    pub(crate) accounts: usize,
    /// accounts: concurrent requests per burst (each burst finishes before the next starts).
    #[arg(long, default_value_t = 64)]
    pub(crate) burst: usize,
    /// conversations: conversations of the one listing user (`--conv-peers` 1:1, the rest
    /// groups; the server needs `MAX_GROUPS_PER_USER` at least that many).
    #[arg(long, default_value_t = 1000)]
    pub(crate) convs: usize,
    /// conversations: how many of them are 1:1 (each peer is a registration).
    #[arg(long, default_value_t = 100)]
    pub(crate) conv_peers: usize,
    /// conversations: entries per page of `GET /api/conversations`.
    #[arg(long, default_value_t = 50)]
    pub(crate) page: usize,
    /// conversations: times the whole list is read, page by page.
    #[arg(long, default_value_t = 20)]
    pub(crate) rounds: usize,
    /// Concurrent registrations while seeding (password hashing is slow).
    #[arg(long, default_value_t = 16)]
    pub(crate) seed_concurrency: usize,
    /// Seconds to wait for outstanding acks and deliveries after the load stops.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) drain: f64,
    /// Make the baseline forwarder misbehave on every 1000th message (dup, drop or reorder),
    /// to see the checker catch it.
    #[arg(long, value_enum, hide = true, default_value = "none")]
    pub(crate) fault: Fault,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What load to put on the target.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Sender/receiver pairs of one-to-one messages.
    Direct,
    /// Groups of online members, a few of them sending.
    Group,
    /// Many logged-in connections doing nothing but heartbeats.
    Idle,
    /// Connect, log in, close, in a loop.
    Login,
    /// Sign-up then login bursts over HTTP, with the server's memory.
    Accounts,
    /// One user in many conversations: pages of `GET /api/conversations` timed.
    Conversations,
}

/// How the baseline forwarder misbehaves (the checker must catch it).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Fault {
    /// Behaves.
    #[default]
    None,
    /// Delivers every 1000th message twice.
    Dup,
    /// Drops every 1000th delivery.
    Drop,
    /// Gives every 1000th message the conv_seq of its predecessor.
    Reorder,
}

/// The wire the connections speak.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Framed protobuf over TCP.
    Pb,
    /// Framed JSON over TCP.
    Json,
    /// WebSocket, binary protobuf.
    Ws,
}
