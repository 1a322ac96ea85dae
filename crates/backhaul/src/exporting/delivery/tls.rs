//! TLS for the `:https` connectors, with rustls (its `ring` provider).
//!
//! Certificates are verified by default against the system's roots (the
//! ones `rustls-native-certs` finds, e.g. Debian's `/etc/ssl/certs`), with
//! SNI for host names. Per instance, as netdata's `stream.conf` names them:
//! `CAfile` and `CApath` replace the system roots with a private CA;
//! `ssl skip certificate verification = yes` accepts any certificate (logged
//! loudly at start); `ssl certificate` and `ssl key` present a client
//! certificate.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::dial::Deadline;

/// An instance's TLS settings, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl skip certificate verification`.
    pub skip_verification: bool,
    /// `CAfile`: PEM file of trusted CA certificates.
    pub ca_file: Option<PathBuf>,
    /// `CApath`: a directory of PEM files of trusted CA certificates.
    pub ca_path: Option<PathBuf>,
    /// `ssl certificate`: the client certificate chain (PEM).
    pub client_certificate: Option<PathBuf>,
    /// `ssl key`: the client certificate's private key (PEM).
    pub client_key: Option<PathBuf>,
}

/// Why a TLS client configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {what} '{path}': {reason}")]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("no trusted CA certificate found ({0})")]
    NoRoots(String),
    #[error("'ssl certificate' and 'ssl key' go together: only one is set")]
    HalfClientAuth,
    #[error("TLS set-up: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsSetupError {
    TlsSetupError::File {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn add_pem_certs(
    roots: &mut RootCertStore,
    path: &Path,
    what: &'static str,
) -> Result<usize, TlsSetupError> {
    let mut added = 0;
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| file_error(what, path, e))?;
    for cert in iter {
        let cert = cert.map_err(|e| file_error(what, path, e))?;
        roots
            .add(cert)
            .map_err(|e| file_error(what, path, format!("not a usable CA certificate: {e}")))?;
        added += 1;
    }
    Ok(added)
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    if settings.ca_file.is_none() && settings.ca_path.is_none() {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            let why = found
                .errors
                .first()
                .map_or("the system has no CA certificates".to_string(), |e| {
                    e.to_string()
                });
            return Err(TlsSetupError::NoRoots(format!(
                "{why}; set CAfile or install ca-certificates"
            )));
        }
        return Ok(roots);
    }
    if let Some(file) = &settings.ca_file {
        if add_pem_certs(&mut roots, file, "CAfile")? == 0 {
            return Err(file_error("CAfile", file, "holds no PEM certificate"));
        }
    }
    if let Some(dir) = &settings.ca_path {
        let entries = std::fs::read_dir(dir).map_err(|e| file_error("CApath", dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                // Hash links and unrelated files: take what parses.
                let mut one = RootCertStore::empty();
                if add_pem_certs(&mut one, &path, "CApath").is_ok() {
                    roots.extend(one.roots);
                }
            }
        }
        if roots.is_empty() {
            return Err(file_error("CApath", dir, "holds no PEM CA certificate"));
        }
    }
    Ok(roots)
}

/// Builds the client configuration of one instance.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = if settings.skip_verification {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    } else {
        builder.with_root_certificates(roots(settings)?)
    };
    let config = match (&settings.client_certificate, &settings.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file_error("ssl certificate", cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error("ssl certificate", cert, e))?;
            if chain.is_empty() {
                return Err(file_error(
                    "ssl certificate",
                    cert,
                    "holds no PEM certificate",
                ));
            }
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("ssl key", key, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsSetupError::HalfClientAuth),
    };
    Ok(Arc::new(config))
}

/// `ssl skip certificate verification = yes`: any certificate is accepted,
/// but the handshake's signatures are still checked (so the session is
/// encrypted to whoever holds the presented key).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS session over a TCP connection.
pub type TlsStream = rustls::StreamOwned<ClientConnection, TcpStream>;

/// Performs the TLS handshake with `host` (the configured name or address:
/// SNI and certificate checks use it) over `tcp`, within `deadline`. No
/// application byte is sent before the handshake (and so the certificate
/// check) succeeded.
pub fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
    deadline: &Deadline,
) -> io::Result<TlsStream> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("'{host}' is not a valid TLS server name: {e}"),
        )
    })?;
    let mut conn = ClientConnection::new(config.clone(), name)
        .map_err(|e| io::Error::other(format!("TLS set-up: {e}")))?;
    while conn.is_handshaking() {
        let slice = deadline.next_slice()?;
        tcp.set_read_timeout(Some(slice))?;
        tcp.set_write_timeout(Some(slice))?;
        match conn.complete_io(&mut tcp) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let reason = if e.kind() == ErrorKind::InvalidData {
                    format!("TLS handshake failed: {e}")
                } else {
                    format!("TLS handshake: {e}")
                };
                return Err(io::Error::new(e.kind(), reason));
            }
        }
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}
