//! The listeners and the server's life: accept, sniff the first byte, serve, shut down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use easyim_bus_nats::{NatsBus, NatsOptions, NatsSubscriber};
use easyim_core::{Bus, Engine, EngineConfig, Im, JwtAuth, Limits, LocalBus, Storage};
use easyim_proto::FormatPolicy;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Layer, ServiceExt};
use tracing::{debug, info, warn};

use crate::accept::{open, Io, Opened, Policy};
use crate::api::{router as api_router, ApiConfig, ImPort};
use crate::config::Config;
use crate::error::ServerError;
use crate::stall::Stall;
use crate::storage::{open_storage, write_owner_only};
use crate::tls::Tls;
use crate::transport::{serve_stream, serve_websocket, Framing};

/// How long shutdown waits for connections to finish before it stops waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every connection handler needs.
#[derive(Clone)]
struct Ctx {
    engine: Engine,
    config: Arc<Config>,
    /// The HTTP routes with the WebSocket upgrade in front, as one service.
    http: axum::Router,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    stop: CancellationToken,
    /// The certificate of both ports, when `TLS_CERT_FILE` and `TLS_KEY_FILE` are set.
    tls: Option<Arc<Tls>>,
}

/// A connection's place under `MAX_CONNECTIONS`. A WebSocket outlives the HTTP connection it
/// was upgraded from, so its session holds a clone (through the request's extensions) and the
/// place is free only when both have ended.
#[derive(Clone)]
struct Slot {
    _permit: Arc<OwnedSemaphorePermit>,
    /// Set when the connection becomes a WebSocket (its socket's read timeout then stops).
    upgraded: Arc<AtomicBool>,
}

/// The state of the middleware that takes WebSocket upgrades on any path.
#[derive(Clone)]
struct WsState {
    engine: Engine,
    max_frame: usize,
    policy: FormatPolicy,
    /// WebSocket sessions run in tasks the HTTP library spawns; a token keeps each one
    /// counted, so shutdown waits for it too.
    tracker: TaskTracker,
}

/// A server that is listening: its bound addresses, and the way to run it to its end.
#[derive(Debug)]
pub struct Server {
    im_addr: SocketAddr,
    api_addr: SocketAddr,
    im_listener: TcpListener,
    api_listener: TcpListener,
    im: Im,
    config: Arc<Config>,
    stop: CancellationToken,
    /// The other nodes' events, applied to this engine while the server runs (`NATS_URL`).
    bus: Option<NatsSubscriber>,
    /// Loaded at bind, so that a bad certificate stops the server before it listens.
    tls: Option<Arc<Tls>>,
    /// The storage, for the webhook dispatcher (`WEBHOOK_URL`).
    storage: Outbox,
}

/// The storage as the webhook dispatcher sees it (`Storage` has no `Debug`).
struct Outbox(Arc<dyn Storage>);

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Server {
    /// Opens the configured storage (and creates or migrates its schema) and binds both ports
    /// (port 0 picks a free one).
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        // A bad certificate stops the server before it touches the database.
        let tls = load_tls(&config)?;
        let storage = open_storage(&config).await?;
        Self::bind_tls(config, storage, tls).await
    }

    /// Binds both ports over a given storage; joins the cluster's bus if `NATS_URL` is set.
    pub async fn bind_with(
        config: Config,
        storage: Arc<dyn Storage>,
    ) -> Result<Server, ServerError> {
        let tls = load_tls(&config)?;
        Self::bind_tls(config, storage, tls).await
    }

    /// Binds both ports over `storage`, with the certificate already loaded.
    async fn bind_tls(
        config: Config,
        storage: Arc<dyn Storage>,
        tls: Option<Arc<Tls>>,
    ) -> Result<Server, ServerError> {
        // The signing secret is made at random on first start and kept in storage, so every
        // node sharing the storage signs alike and no secret is ever a constant in the code.
        let secret = storage
            .server_secret(&easyim_core::random_secret())
            .await
            .map_err(ServerError::Secret)?;
        let auth = Arc::new(JwtAuth::new(
            storage.clone(),
            secret,
            config.access_ttl,
            config.refresh_ttl,
        ));
        let (bus, subscriber): (Arc<dyn Bus>, _) = if config.nats_url.is_empty() {
            (Arc::new(LocalBus), None)
        } else {
            let (bus, subscriber) =
                NatsBus::connect(NatsOptions::new(&config.nats_url, config.node_id))
                    .await
                    .map_err(ServerError::Nats)?;
            (Arc::new(bus), Some(subscriber))
        };
        if config.webhook.url.is_some() {
            // From the first write on, its events go to the outbox.
            storage.event_filter().set(&config.webhook.events);
        }
        let im = Im::with_bus(
            storage.clone(),
            auth,
            EngineConfig {
                auth_timeout: config.auth_timeout,
                idle_timeout: config.idle_timeout,
                send_queue: config.send_queue,
                rate_limit: config.rate_limit,
                node_id: config.node_id,
                amend: config.amend,
                typing_max_group: config.typing_max_group,
            },
            bus,
        )
        .with_limits(
            Limits::default()
                .with_max_group_members(config.max_group_members)
                .with_max_groups_per_user(config.max_groups_per_user)
                .with_direct_messages(config.direct_messages),
        );
        let secret = &config.webhook.secret;
        if let Some(hook) = crate::webhook::HttpBeforeSend::new(&config.before_send, secret) {
            im.engine().set_before_send(Arc::new(hook));
        }
        let im_listener = bind("SERVER_PORT", SocketAddr::new(config.ip, config.port)).await?;
        let api_listener = bind(
            "API_SERVER_PORT",
            SocketAddr::new(config.ip, config.api_port),
        )
        .await?;
        Ok(Server {
            im_addr: im_listener.local_addr()?,
            api_addr: api_listener.local_addr()?,
            im_listener,
            api_listener,
            im,
            config: Arc::new(config),
            stop: CancellationToken::new(),
            bus: subscriber,
            tls,
            storage: Outbox(storage),
        })
    }

    /// The IM port's address.
    pub fn im_addr(&self) -> SocketAddr {
        self.im_addr
    }

    /// The API port's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The engine (for tests and embedding).
    pub fn engine(&self) -> &Engine {
        self.im.engine()
    }

    /// The IM with its domain services (for tests and embedding).
    pub fn im(&self) -> &Im {
        &self.im
    }

    /// A token that stops the server when cancelled (as `POST /api/local/stop` does).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves until `shutdown` resolves or the stop token is cancelled, then stops gracefully:
    /// no new connections, `E_SHUTDOWN` to live ones, in-flight storage steps finished.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let Server {
            im_listener,
            api_listener,
            im,
            config,
            stop,
            im_addr,
            api_addr,
            bus,
            tls,
            storage: Outbox(storage),
        } = self;
        let engine = im.engine().clone();
        let stop_key = easyim_core::random_secret();
        write_owner_only(&config.local_stop_file, stop_key.as_bytes()).map_err(|source| {
            ServerError::StopFile {
                path: config.local_stop_file.clone(),
                source,
            }
        })?;
        let mut api_config = ApiConfig::default().with_stop_key(stop_key);
        api_config.max_body_bytes = config.max_body_bytes;
        api_config.rate_limit = config.api_rate_limit;
        api_config.always_200 = config.api_always_200;
        api_config.request_timeout = config.write_timeout;
        api_config.admin_token = Some(config.admin_token.clone());
        let webhooks = config
            .webhook
            .url
            .is_some()
            .then(|| Arc::new(crate::webhook::WebhookCounters::default()));
        api_config.webhooks = webhooks.clone();
        let routes = api_router(im, api_config, stop.clone());
        let tracker = TaskTracker::new();
        let ws = WsState {
            engine: engine.clone(),
            max_frame: config.max_frame_bytes,
            policy: config.msg_format,
            tracker: tracker.clone(),
        };
        // WebSocket upgrades are taken on any path, before routing.
        let http = axum::Router::new().fallback_service(
            axum::middleware::from_fn_with_state(ws, websocket_or_http).layer(routes),
        );
        let accept_stop = CancellationToken::new();
        let ctx = Ctx {
            engine: engine.clone(),
            config: config.clone(),
            http,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            tracker: tracker.clone(),
            stop: accept_stop.clone(),
            tls: tls.clone(),
        };
        if let Some(tls) = tls {
            tracker.spawn(tls.reload_on_hangup(accept_stop.clone()));
        }
        info!(im = %im_addr, api = %api_addr, tls = ctx.tls.is_some(), "easyim listening");
        tracker.spawn(accept_loop(im_listener, ctx.clone(), true));
        tracker.spawn(accept_loop(api_listener, ctx, false));
        if let Some(counters) = webhooks {
            tracker.spawn(crate::webhook::run(
                storage,
                config.webhook.clone(),
                counters,
                accept_stop.clone(),
            ));
        } else {
            drop(storage);
        }
        if let Some(bus) = bus {
            // Until the listeners stop: after that the engine closes its connections anyway.
            tracker.spawn(bus.run(engine.clone(), accept_stop.clone().cancelled_owned()));
        }
        tokio::select! {
            _ = shutdown => info!("shutdown signal"),
            _ = stop.cancelled() => info!("stop requested"),
        }
        accept_stop.cancel();
        engine.shutdown();
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            warn!("connections still open after the grace period; stopping anyway");
        }
        // The key is for this run only.
        let _ = std::fs::remove_file(&config.local_stop_file);
        info!("stopped");
        Ok(())
    }
}

/// The certificate and key, if `TLS_CERT_FILE` and `TLS_KEY_FILE` are set.
fn load_tls(config: &Config) -> Result<Option<Arc<Tls>>, ServerError> {
    match &config.tls {
        Some(files) => Ok(Some(Arc::new(Tls::load(files.clone())?))),
        None => Ok(None),
    }
}

/// Binds one of the two ports, naming its setting when that fails.
async fn bind(setting: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            setting,
            addr,
            source,
        })
}

/// Accepts connections until the server stops. Over `MAX_CONNECTIONS`, a new connection is
/// closed at once; accept errors (out of file descriptors...) back off instead of spinning.
async fn accept_loop(listener: TcpListener, ctx: Ctx, im_port: bool) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = ctx.stop.cancelled() => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(5);
                a
            }
            Err(e) => {
                warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(permit) = ctx.slots.clone().try_acquire_owned() else {
            debug!(%peer, "connection cap reached; closing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let c = ctx.clone();
        let slot = Slot {
            _permit: Arc::new(permit),
            upgraded: Arc::default(),
        };
        ctx.tracker.spawn(async move {
            // The slot is held from here: a TLS handshake counts like any connection.
            let policy = Policy {
                tls: c.tls.as_deref(),
                required: c.config.tls_required,
                timeout: c.config.auth_timeout,
                write_timeout: c.config.write_timeout,
            };
            let opened = tokio::select! {
                _ = c.stop.cancelled() => return,
                o = open(stream, policy) => o,
            };
            match opened {
                Some(Opened::Plain(s, first)) => serve(s, first, peer, c, slot, im_port).await,
                Some(Opened::Tls(s, first)) => serve(s, first, peer, c, slot, im_port).await,
                None => {}
            }
        });
    }
}

/// Serves an opened connection as its port does.
async fn serve<S: Io>(stream: S, first: u8, peer: SocketAddr, ctx: Ctx, slot: Slot, im_port: bool) {
    if im_port {
        serve_im(stream, first, peer, ctx, slot).await;
    } else {
        serve_http(stream, peer, ctx, slot, false).await;
    }
}

/// The IM port: the first byte (`stream` still holds it) says what the connection is
/// (protocol.md section 2).
async fn serve_im<S: Io>(stream: S, first: u8, peer: SocketAddr, ctx: Ctx, slot: Slot) {
    let (max, policy) = (ctx.config.max_frame_bytes, ctx.config.msg_format);
    match first {
        b'A'..=b'Z' => serve_http(stream, peer, ctx, slot, true).await,
        b'{' => serve_stream(ctx.engine, stream, Framing::Lines, max, policy).await,
        b if easyim_proto::is_raw_start(b) => {
            serve_stream(ctx.engine, stream, Framing::Raw, max, policy).await
        }
        _ => serve_stream(ctx.engine, stream, Framing::Length, max, policy).await,
    }
}

/// One HTTP/1 connection: API requests, and WebSocket upgrades on any path. On the IM port
/// (`im_port`) the server API is not served.
async fn serve_http<S: Io>(stream: S, peer: SocketAddr, ctx: Ctx, slot: Slot, im_port: bool) {
    let http = ctx.http.clone();
    let upgraded = slot.upgraded.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(slot.clone());
            if im_port {
                req.extensions_mut().insert(ImPort);
            }
            http.clone().oneshot(req.map(axum::body::Body::new))
        });
    // A peer that stops reading, or sends a head or body that never ends, fails its socket
    // instead of holding its place forever.
    let stream = Stall::new(
        stream,
        ctx.config.auth_timeout,
        ctx.config.write_timeout,
        upgraded,
    );
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ctx.config.auth_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(%peer, error = %e, "http connection ended with an error");
            }
        }
        _ = ctx.stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

/// Takes a WebSocket upgrade on any path; anything else goes to the routes.
async fn websocket_or_http(State(ws): State<WsState>, req: Request, next: Next) -> Response {
    let is_upgrade = req
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return next.run(req).await;
    }
    let (mut parts, _body) = req.into_parts();
    let slot = parts.extensions.get::<Slot>().cloned();
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(up) => {
            let WsState {
                engine,
                max_frame,
                policy,
                tracker,
            } = ws;
            let token = tracker.token();
            up.max_message_size(max_frame)
                .max_frame_size(max_frame)
                .on_upgrade(move |socket| async move {
                    if let Some(slot) = &slot {
                        slot.upgraded.store(true, Ordering::Relaxed);
                    }
                    serve_websocket(engine, socket, policy).await;
                    drop((token, slot));
                })
        }
        Err(rejection) => rejection.into_response(),
    }
}
