//! TLS to the IM port (`--tls`), trusting the CA certificates of a PEM file (`--ca`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A client TLS configuration; cheap to clone.
#[derive(Clone)]
pub(crate) struct Tls(TlsConnector);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Trusts the certificates in the PEM file `ca` and nothing else.
    pub(crate) fn trusting(ca: &Path) -> Result<Tls> {
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("reading --ca {}", ca.display()))?;
        for cert in certs {
            let cert = cert.with_context(|| format!("reading --ca {}", ca.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a certificate of --ca {}", ca.display()))?;
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
        Ok(Tls(TlsConnector::from(Arc::new(config))))
    }

    /// Makes the handshake over `tcp`, checking the certificate names `to`'s IP address.
    pub(crate) async fn wrap(
        &self,
        tcp: TcpStream,
        to: SocketAddr,
    ) -> Result<TlsStream<TcpStream>> {
        let name = ServerName::from(to.ip());
        Ok(self.0.connect(name, tcp).await?)
    }
}
