//! The web port's TLS side: the rustls server configuration made from
//! `[web] ssl certificate` (a PEM chain, leaf first) and `ssl key` (a PEM
//! private key), with the `ring` provider and rustls' safe default
//! protocol versions (TLS 1.2 and 1.3). No client certificates are asked
//! for.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use super::server::WebError;

/// The server configuration for `certificate` and `key`.
pub fn server_config(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, WebError> {
    let file_error = |key: &'static str, path: &Path, reason: String| WebError::Tls {
        key,
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| file_error("ssl certificate", certificate, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error("ssl certificate", certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(
            "ssl certificate",
            certificate,
            "holds no PEM certificate".to_string(),
        ));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("ssl key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error("ssl key", key, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            file_error(
                "ssl key",
                key,
                format!("does not go with the certificate: {e}"),
            )
        })?;
    Ok(Arc::new(config))
}
