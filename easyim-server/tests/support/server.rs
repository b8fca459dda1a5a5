//! Servers in this process: the whole server on port 0 ([`TestServer`]), or the API router
//! alone with no socket at all ([`Api`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use easyim_core::{Engine, EngineConfig, Im, JwtAuth, Storage};
use easyim_server::{api_router, ApiConfig, Server, Sources, SqliteOptions, SqliteStorage};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{oneshot, register, Resp, User};

/// A server running in this process, on port 0 of 127.0.0.1 for both ports.
pub struct TestServer {
    /// Holds the SQLite database, unless the storage was given.
    pub dir: TempDir,
    pub im: SocketAddr,
    pub api: SocketAddr,
    pub stop: CancellationToken,
    pub handle: JoinHandle<Result<(), easyim_server::ServerError>>,
}

/// Starts a server over SQLite in a fresh folder with extra settings.
pub async fn start(settings: &[(&str, &str)]) -> TestServer {
    start_in(TempDir::new().unwrap(), settings).await
}

/// Starts a server whose SQLite database lives in `dir`.
pub async fn start_in(dir: TempDir, settings: &[(&str, &str)]) -> TestServer {
    boot(dir, None, settings).await
}

/// Starts a server over `storage`.
pub async fn start_with_storage(
    storage: Arc<dyn Storage>,
    settings: &[(&str, &str)],
) -> TestServer {
    boot(TempDir::new().unwrap(), Some(storage), settings).await
}

async fn boot(
    dir: TempDir,
    storage: Option<Arc<dyn Storage>>,
    settings: &[(&str, &str)],
) -> TestServer {
    let mut s = Sources::default();
    s.set(
        "SQLITE_PATH",
        dir.path().join("easyim.db").to_string_lossy().into_owned(),
    );
    s.set(
        "LOCAL_STOP_FILE",
        dir.path()
            .join("easyim.stop")
            .to_string_lossy()
            .into_owned(),
    );
    s.set("SERVER_IP", "127.0.0.1");
    s.set("SERVER_PORT", "0");
    s.set("API_SERVER_PORT", "0");
    // The tests measure behaviour, not the limits (on by default); those that test a limit
    // set it.
    s.set("RATE_LIMIT", "0");
    s.set("API_RATE_LIMIT", "0");
    for (k, v) in settings {
        s.set(k, *v);
    }
    let config = s.config().unwrap();
    let server = match storage {
        Some(storage) => Server::bind_with(config, storage).await.unwrap(),
        None => Server::bind(config).await.unwrap(),
    };
    let (im, api, stop) = (server.im_addr(), server.api_addr(), server.stop_token());
    let handle = tokio::spawn(server.run(std::future::pending()));
    TestServer {
        dir,
        im,
        api,
        stop,
        handle,
    }
}

impl TestServer {
    /// Stops the server, waits for it to end, and hands back its folder.
    pub async fn shutdown(self) -> TempDir {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("server stops in time")
            .unwrap()
            .unwrap();
        self.dir
    }

    /// Registers `account` and returns the new user.
    pub async fn user(&self, account: &str) -> User {
        register(self.api, account).await
    }
}

// ---- the API router alone --------------------------------------------------------------

/// How to build an [`Api`].
pub struct ApiOpts {
    pub config: ApiConfig,
    /// Pretend every request comes from this address (127.0.0.1 if `None`).
    pub peer: Option<IpAddr>,
    /// SQLite in a temporary folder if `None`.
    pub storage: Option<Arc<dyn Storage>>,
}

impl Default for ApiOpts {
    fn default() -> Self {
        ApiOpts {
            config: ApiConfig::default()
                .with_max_body_bytes(1 << 20)
                .with_rate_limit(0),
            peer: None,
            storage: None,
        }
    }
}

/// The API router over its own engine, driven without a socket.
pub struct Api {
    pub router: Router,
    /// The engine behind the router, for what the API cannot do (store a message, go online).
    pub engine: Engine,
    /// The token `/api/local/stop` cancels.
    pub stop: CancellationToken,
    pub peer: IpAddr,
    _dir: Option<TempDir>,
}

impl Api {
    pub async fn start() -> Api {
        Self::start_with(ApiOpts::default()).await
    }

    pub async fn start_with(opts: ApiOpts) -> Api {
        let (storage, dir): (Arc<dyn Storage>, _) = match opts.storage {
            Some(s) => (s, None),
            None => {
                let dir = TempDir::new().unwrap();
                let s = SqliteStorage::open(dir.path().join("api.db"), SqliteOptions::default())
                    .expect("open sqlite");
                (Arc::new(s), Some(dir))
            }
        };
        let auth = Arc::new(JwtAuth::new(
            storage.clone(),
            "test-secret",
            7200,
            2_592_000,
        ));
        let im = Im::new(storage, auth, EngineConfig::default());
        let engine = im.engine().clone();
        let stop = CancellationToken::new();
        Api {
            router: api_router(im, opts.config, stop.clone()),
            engine,
            stop,
            peer: opts.peer.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            _dir: dir,
        }
    }

    /// One request with exactly `headers`.
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        oneshot(&self.router, self.peer, method, path, headers, body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req("GET", path, &[], b"").await
    }

    /// A POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        let body = body.to_string();
        self.req(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await
    }

    /// Registers `account` (password "pw-123456", no nickname: the default is under test) and
    /// returns the `data` of the answer.
    pub async fn register(&self, account: &str) -> Value {
        self.post(
            "/api/user/register",
            json!({ "account": account, "password": "pw-123456" }),
        )
        .await
        .data()
    }
}
