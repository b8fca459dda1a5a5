//! The TLS side of `https://` webhook and before-send receivers: which certificate
//! authorities are trusted (`WEBHOOK_CA`, or the system's), read once at start.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::config::ConfigError;

/// The client configuration for `https://` receivers: the certificates of the PEM file
/// `ca` (`WEBHOOK_CA`), or when it is empty the system's trusted authorities. ring, TLS 1.2
/// and 1.3, the server's name checked against the URL's host.
pub(crate) fn client_config(ca: &str) -> Result<Arc<ClientConfig>, ConfigError> {
    let ca = ca.trim();
    let invalid = |why: String| ConfigError::Invalid {
        key: "WEBHOOK_CA",
        value: ca.to_owned(),
        why,
    };
    let mut roots = RootCertStore::empty();
    if ca.is_empty() {
        let native = rustls_native_certs::load_native_certs()
            .map_err(|e| invalid(format!("cannot read the system's certificates: {e}")))?;
        let (added, _) = roots.add_parsable_certificates(native);
        if added == 0 {
            return Err(invalid(
                "the system has no trusted certificate authorities: set WEBHOOK_CA to a PEM file"
                    .into(),
            ));
        }
    } else {
        let certs = CertificateDer::pem_file_iter(Path::new(ca))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| invalid(format!("cannot read PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(invalid("no certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("not a usable certificate: {e}")))?;
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(r: Result<Arc<ClientConfig>, ConfigError>) -> String {
        match r {
            Err(ConfigError::Invalid { key, why, .. }) => {
                assert_eq!(key, "WEBHOOK_CA");
                why
            }
            Err(other) => panic!("want an invalid WEBHOOK_CA, got {other:?}"),
            Ok(_) => panic!("want an invalid WEBHOOK_CA, got a configuration"),
        }
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_setting_error() {
        let dir = std::env::temp_dir().join(format!("easyim-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        assert!(why(client_config(&missing.to_string_lossy())).contains("cannot read"));
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(why(client_config(&empty.to_string_lossy())).contains("no certificate"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
