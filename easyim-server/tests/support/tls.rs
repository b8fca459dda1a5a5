//! TLS for the tests: a self-signed certificate for `localhost` made on the spot ([`TestCa`]),
//! written to PEM files the server reads, and client connections and HTTP requests that trust
//! it and nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{request_bytes, request_over, Resp, WAIT};

/// Any stream a test client talks over: a socket, or TLS over one.
pub trait DynIo: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> DynIo for S {}

/// A boxed [`DynIo`].
pub type AnyStream = Box<dyn DynIo>;

/// A self-signed certificate for `localhost` and 127.0.0.1, in PEM files, and the client
/// configuration that trusts it.
#[derive(Clone)]
pub struct TestCa {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub der: CertificateDer<'static>,
    connector: TlsConnector,
}

impl TestCa {
    /// A new certificate and key, written to `<dir>/<name>.crt` and `<dir>/<name>.key`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let cert_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        Self::issue(&cert_file, &key_file)
    }

    /// A new certificate and key written over `cert_file` and `key_file`.
    pub fn issue(cert_file: &Path, key_file: &Path) -> TestCa {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .expect("a test certificate");
        std::fs::write(cert_file, cert.pem()).unwrap();
        std::fs::write(key_file, key_pair.serialize_pem()).unwrap();
        let der = cert.der().clone();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TestCa {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            der,
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// The server settings that use this certificate.
    pub fn settings(&self) -> [(&'static str, String); 2] {
        [
            (
                "TLS_CERT_FILE",
                self.cert_file.to_string_lossy().into_owned(),
            ),
            ("TLS_KEY_FILE", self.key_file.to_string_lossy().into_owned()),
        ]
    }
}

/// A TLS connection to `addr` (as `localhost`) that trusts `ca` only.
pub async fn tls_connect(addr: SocketAddr, ca: &TestCa) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(WAIT, ca.connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

/// One HTTPS request (as [`super::request`]) to `addr`, trusting `ca`; an error where the
/// connection or handshake fails.
pub async fn try_https(
    addr: SocketAddr,
    ca: &TestCa,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let s = tls_connect(addr, ca).await?;
    let req = request_bytes(method, path, headers, body);
    tokio::time::timeout(WAIT, request_over(s, &req))
        .await
        .map_err(|_| std::io::Error::other("no HTTPS answer in time"))?
}

/// Like [`try_https`], panicking where it fails.
pub async fn https(
    addr: SocketAddr,
    ca: &TestCa,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_https(addr, ca, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} over TLS on {addr}: {e}"))
}
