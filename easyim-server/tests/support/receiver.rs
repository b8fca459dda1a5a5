//! A webhook receiver on a real socket: records every POST (headers and body), answers 200,
//! or 503 while it is told to be down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

use super::WAIT;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Delivery {
    /// Checks the signature with an HMAC of `secret` computed here, independently of the
    /// server.
    pub fn assert_signed(&self, secret: &str) {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.", self.timestamp).as_bytes());
        mac.update(&self.body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            self.signature,
            format!("sha256={hex}"),
            "signature of {self:?}"
        );
        let ts: i64 = self.timestamp.parse().expect("a timestamp in ms");
        assert!(ts > 1_600_000_000_000);
    }
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Delivery>>,
    down: AtomicBool,
    refused: AtomicU64,
}

/// A running receiver; it stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
    scheme: &'static str,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if inner.down.load(Ordering::SeqCst) {
        inner.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let json = serde_json::from_slice(&body).expect("a delivery is JSON");
    inner.got.lock().unwrap().push(Delivery {
        timestamp: h("x-easyim-timestamp"),
        signature: h("x-easyim-signature"),
        body: body.to_vec(),
        json,
    });
    StatusCode::OK
}

impl Receiver {
    /// Listens on a fresh port of 127.0.0.1.
    pub async fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// Listens on `port` of 127.0.0.1 (one nobody listened on so far).
    pub async fn start_on(port: u16) -> Receiver {
        Self::on(TcpListener::bind(("127.0.0.1", port)).await.unwrap())
    }

    fn on(listener: TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        let app = Self::app(&inner);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            addr,
            inner,
            task,
            scheme: "http",
        }
    }

    /// Listens over TLS, with `ca`'s certificate (for `localhost` and 127.0.0.1), on a fresh
    /// port of 127.0.0.1.
    pub async fn start_tls(ca: &super::TestCa) -> Receiver {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let chain = vec![CertificateDer::from_pem_file(&ca.cert_file).unwrap()];
        let key = PrivateKeyDer::from_pem_file(&ca.key_file).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let inner = Arc::new(Inner::default());
        let app = Self::app(&inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            inner,
            task,
            scheme: "https",
        }
    }

    fn app(inner: &Arc<Inner>) -> Router {
        Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone())
    }

    /// `http://<addr>/hook`, or `https://` for a receiver over TLS.
    pub fn url(&self) -> String {
        format!("{}://{}/hook", self.scheme, self.addr)
    }

    /// While down, every POST is answered 503 and not recorded.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// How many POSTs were answered 503.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::SeqCst)
    }

    /// Every delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Every event so far, in the order received.
    pub fn events(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .flat_map(|d| d.json["events"].as_array().unwrap().clone())
            .collect()
    }

    /// Waits until `done` holds for the events received; panics after [`WAIT`].
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let events = self.events();
            if done(&events) {
                return events;
            }
            assert!(t0.elapsed() < WAIT, "{what}: got only {events:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
