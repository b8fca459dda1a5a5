//! [`Tls`]: the server's certificate and key (`TLS_CERT_FILE`, `TLS_KEY_FILE`), loaded at start
//! and again on SIGHUP.
//!
//! Each accepted connection takes the configuration current at that moment, so a reload
//! changes the certificate of new connections only; live ones keep the session they made.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{pem, CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Where the certificate chain and its private key are (both PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `TLS_CERT_FILE`: the server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// `TLS_KEY_FILE`: the private key of the first certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the certificate or key could not be loaded. Each variant names the setting and the file
/// at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read, or holds no usable PEM item of the kind expected.
    #[error("reading {setting} {path}")]
    File {
        /// `TLS_CERT_FILE` or `TLS_KEY_FILE`.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// What reading or parsing it answered.
        #[source]
        source: pem::Error,
    },
    /// `TLS_CERT_FILE` holds no `CERTIFICATE` block.
    #[error("TLS_CERT_FILE {path} holds no PEM certificate")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key does not fit the certificate, or one of them is of a kind TLS cannot use.
    #[error("TLS_KEY_FILE {key} does not go with the certificate in TLS_CERT_FILE {cert}")]
    Rejected {
        /// `TLS_KEY_FILE`.
        key: PathBuf,
        /// `TLS_CERT_FILE`.
        cert: PathBuf,
        /// What the TLS library answered.
        #[source]
        source: rustls::Error,
    },
}

/// The TLS side of both ports: the files, and the configuration new connections use.
#[derive(Debug)]
pub(crate) struct Tls {
    files: TlsFiles,
    /// Replaced whole on reload; read once per accepted connection (a clone of the `Arc`).
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Loads the certificate and key; an error names the setting and file at fault.
    pub(crate) fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let config = server_config(&files)?;
        Ok(Tls {
            files,
            current: RwLock::new(config),
        })
    }

    /// An acceptor with the configuration current now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        TlsAcceptor::from(config)
    }

    /// Reads the files again; on success new connections use them, on failure nothing
    /// changes.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.files)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
        Ok(())
    }

    /// Reloads on every SIGHUP until `stop` is cancelled; a bad file keeps the old certificate
    /// and logs why. SIGHUP is taken over before this returns (its default would end the
    /// process), so a signal sent once the server listens is never lost.
    pub(crate) fn reload_on_hangup(
        self: Arc<Self>,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        #[cfg(unix)]
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        async move {
            #[cfg(unix)]
            {
                let mut hangups = match hangups {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "cannot listen for SIGHUP; the certificate will not be reloaded");
                        return;
                    }
                };
                self.reload_each(&mut hangups, stop).await;
            }
            #[cfg(not(unix))]
            stop.cancelled().await;
        }
    }

    /// Reloads at each signal `hangups` receives, until `stop`.
    #[cfg(unix)]
    async fn reload_each(
        self: &Arc<Self>,
        hangups: &mut tokio::signal::unix::Signal,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            // File reads block: off the async workers.
            let tls = self.clone();
            match tokio::task::spawn_blocking(move || tls.reload()).await {
                Ok(Ok(())) => info!(cert = %self.files.cert.display(), "TLS certificate reloaded"),
                Ok(Err(e)) => warn!(
                    error = %error_chain(&e),
                    "TLS certificate not reloaded; keeping the one in use"
                ),
                Err(e) => {
                    warn!(error = %e, "TLS certificate reload failed; keeping the one in use")
                }
            }
        }
    }
}

/// The error and its causes on one line, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Reads both files into a server configuration (ring, TLS 1.2 and 1.3, no client
/// certificates, no ALPN: HTTP over TLS is HTTP/1.1, as on the plain ports).
fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error = |setting, path: &PathBuf| {
        let path = path.clone();
        move |source| TlsError::File {
            setting,
            path,
            source,
        }
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(file_error("TLS_CERT_FILE", &files.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_error("TLS_CERT_FILE", &files.cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(file_error("TLS_KEY_FILE", &files.key))?;
    let rejected = |source| TlsError::Rejected {
        key: files.key.clone(),
        cert: files.cert.clone(),
        source,
    };
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected)?;
    Ok(Arc::new(config))
}
