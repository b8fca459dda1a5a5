//! Every setting of the server: its key, its default and what it is for, and `env.default`,
//! the file written from them on first run.

/// Every key, its default and what it is for: the content of `env.default`.
pub(crate) const KEYS: &[(&str, &str, &str)] = &[
    ("SERVER_IP", "0.0.0.0", "Address both ports listen on"),
    (
        "SERVER_PORT",
        "8888",
        "IM port: framed TCP, JSON, raw protobuf, WebSocket and HTTP on one port",
    ),
    (
        "API_SERVER_PORT",
        "8889",
        "HTTP API port (also serves the web console at /)",
    ),
    (
        "SERVER_DROP_AFTER",
        "300",
        "Seconds a logged-in connection may stay silent before E_IDLE",
    ),
    (
        "WRITE_TIMEOUT",
        "30",
        "Seconds a peer may go without reading what the server writes before it is dropped; also the longest an HTTP request may take",
    ),
    (
        "AUTH_TIMEOUT",
        "10",
        "Seconds a new connection has to send its KEEP_ALIVE login frame",
    ),
    (
        "MSG_FORMAT",
        "auto",
        "Payload formats accepted: auto, json or protobuf",
    ),
    (
        "MAX_FRAME_BYTES",
        "65536",
        "Largest payload of one frame (E_TOO_LARGE above)",
    ),
    (
        "MAX_BODY_BYTES",
        "1048576",
        "Largest HTTP request body (413 above)",
    ),
    (
        "SEND_QUEUE",
        "1024",
        "Frames that may wait for one connection before it is closed",
    ),
    (
        "RATE_LIMIT",
        "200",
        "Frames per second per IM connection (burst the same; E_RATE_LIMIT above), 0 for no limit",
    ),
    (
        "RECALL_WINDOW",
        "120",
        "Seconds after sending during which a sender may recall a message (E_FORBIDDEN after), 0 for no limit",
    ),
    (
        "EDIT_WINDOW",
        "86400",
        "Seconds after sending during which a sender may edit a message (E_FORBIDDEN after), 0 for no limit",
    ),
    (
        "TYPING_MAX_GROUP",
        "200",
        "TYPING frames are forwarded in groups of at most this many members (never in larger ones)",
    ),
    (
        "API_RATE_LIMIT",
        "10",
        "Register/login/group-join requests per second per client IP (burst the same; 429 above), 0 for no limit",
    ),
    (
        "API_ALWAYS_200",
        "false",
        "true: every /api/ answer has HTTP status 200 and the envelope's code says what happened, as the original answered",
    ),
    (
        "ADMIN_TOKEN",
        "",
        "Bearer token of the server API (/api/admin/..., API port only), at least 16 characters; empty: the server API is off",
    ),
    (
        "WEBHOOK_URL",
        "",
        "http:// URL the webhook events are POSTed to; empty: webhooks are off (no outbox is written)",
    ),
    (
        "WEBHOOK_SECRET",
        "",
        "Key of the HMAC-SHA256 signature of each delivery (x-easyim-signature), at least 16 characters when WEBHOOK_URL is set",
    ),
    (
        "WEBHOOK_EVENTS",
        "",
        "Comma-separated event kinds to deliver (message.*, user.*, friend.*, group.*, or full names such as message.created, friend.accepted, group.member_joined; docs/webhooks.md lists them); empty: all",
    ),
    (
        "WEBHOOK_CA",
        "",
        "PEM file of the certificate authorities trusted for https:// webhook and before-send receivers (empty: the system's)",
    ),
    ("WEBHOOK_RETRY_MIN_MS", "1000", "Delay before the first retry of a failed delivery, doubled at each failure (with jitter)"),
    ("WEBHOOK_RETRY_MAX_MS", "300000", "Longest delay between two tries of a delivery"),
    ("WEBHOOK_TIMEOUT_MS", "10000", "How long one webhook POST may take before it counts as failed"),
    ("WEBHOOK_BATCH", "100", "Most events one webhook POST carries (1 to 1000)"),
    (
        "BEFORE_SEND_URL",
        "",
        "http:// URL asked about every chat message before it is stored (allow, refuse, replace); empty: no hook",
    ),
    ("BEFORE_SEND_TIMEOUT_MS", "500", "How long the before-send hook may take before it counts as failed"),
    (
        "BEFORE_SEND_ON_ERROR",
        "allow",
        "What a failed before-send call means: allow (store the message) or deny (E_FORBIDDEN)",
    ),
    (
        "MAX_CONNECTIONS",
        "50000",
        "Connections the server holds at once, over both ports",
    ),
    (
        "MAX_GROUP_MEMBERS",
        "2000",
        "Most members a group may have (creating or inviting past it is 403)",
    ),
    (
        "MAX_GROUPS_PER_USER",
        "500",
        "Most groups one user may belong to (creating, joining or being invited past it is 403)",
    ),
    (
        "DIRECT_MESSAGES",
        "anyone",
        "Who may send a user 1:1 messages: anyone, or friends (E_FORBIDDEN for others)",
    ),
    ("ACCESS_TOKEN_TTL", "7200", "Seconds an access token lives"),
    (
        "REFRESH_TOKEN_TTL",
        "2592000",
        "Seconds a refresh token lives",
    ),
    (
        "DB_DRIVER",
        "sqlite3",
        "Storage: sqlite3 (one node), or postgres or mysql (MySQL/MariaDB) (DB_HOST, DB_PORT, DB_NAME, DB_USERNAME, DB_PASSWORD; several nodes, see CLUSTER.md)",
    ),
    (
        "DB_NAME",
        "easyim",
        "Database name; SQLite uses <DB_NAME>.db unless SQLITE_PATH is set",
    ),
    (
        "SQLITE_PATH",
        "",
        "SQLite database file (default <DB_NAME>.db in the working directory)",
    ),
    (
        "LOCAL_STOP_FILE",
        "easyim.stop",
        "Where the running server keeps the key --stop needs (written owner-only at start)",
    ),
    (
        "DAEMON_LOG_FILE",
        "easyim.log",
        "Where the server started with -d (in the background) writes its log",
    ),
    (
        "DAEMON_PID_FILE",
        "easyim.pid",
        "Where the server started with -d keeps its process id (removed when it stops)",
    ),
    (
        "SQLITE_SYNCHRONOUS",
        "normal",
        "normal: an ack survives a process crash; full: also a power loss",
    ),
    (
        "DB_HOST",
        "127.0.0.1",
        "Database host (networked databases)",
    ),
    (
        "DB_PORT",
        "",
        "Database port (networked databases); empty: 5432 for postgres, 3306 for mysql",
    ),
    ("DB_USERNAME", "", "Database user (networked databases)"),
    ("DB_PASSWORD", "", "Database password (networked databases)"),
    (
        "DB_SCHEMA",
        "",
        "PostgreSQL schema for easyim's tables (created if missing); empty: the server's search_path",
    ),
    (
        "DB_NODE_ID",
        "1",
        "This node's snowflake node number, 0 to 1023, unique per node",
    ),
    (
        "NATS_URL",
        "",
        "NATS server(s) the nodes of a cluster hand each other deliveries through, e.g. nats://10.0.0.5:4222; empty: a single node",
    ),
    (
        "TLS_CERT_FILE",
        "",
        "PEM certificate chain; with TLS_KEY_FILE, both ports also take TLS (https://, wss://, TLS framed TCP); reloaded on SIGHUP",
    ),
    (
        "TLS_KEY_FILE",
        "",
        "PEM private key of the first certificate in TLS_CERT_FILE",
    ),
    (
        "TLS_REQUIRED",
        "false",
        "true: plaintext connections are refused on both ports (needs TLS_CERT_FILE and TLS_KEY_FILE)",
    ),
    ("LOG_FORMAT", "text", "Log format: text or json"),
    (
        "LOG_LEVEL",
        "info",
        "Log level or filter (RUST_LOG, if set, wins)",
    ),
];

/// The text of `env.default`: every key with its default and a comment.
pub fn default_file() -> String {
    let mut s = String::from(
        "# easyim defaults, written on first run. Copy to .env and change what you need there:\n\
         # .env overrides this file, the process environment overrides both, flags override all.\n",
    );
    for (k, v, help) in KEYS {
        s.push_str(&format!("\n# {help}\n{k} = \"{v}\"\n"));
    }
    s
}
