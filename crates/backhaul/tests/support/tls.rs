//! A throw-away public key infrastructure for TLS tests, made at test time
//! with rcgen (no key is ever committed): a CA, a server certificate for
//! `localhost` and `127.0.0.1` signed by it, and a client certificate signed
//! by it; the rustls server configurations the in-process receiver uses; and
//! the PEM files that connectors (`CAfile`, `CApath`, `ssl certificate`,
//! `ssl key`) and real receivers (InfluxDB's combined `certificate`) read.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// One certificate and its private key.
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl Issued {
    fn new(cert: &Certificate, key: &KeyPair) -> Issued {
        Issued {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// A CA with one server and one client certificate.
pub struct TestPki {
    /// The CA's certificate (its key is dropped once the others are signed).
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    /// For `localhost` and `127.0.0.1` (DNS and IP subject alternative
    /// names), server authentication.
    pub server: Issued,
    /// `CN=backhaul test client`, client authentication.
    pub client: Issued,
}

/// Where [`TestPki::write_files`] put things.
pub struct PkiFiles {
    /// The CA certificate (for `CAfile`).
    pub ca: PathBuf,
    /// A directory holding only `ca.pem` (for `CApath`).
    pub ca_dir: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Server certificate then key, in one file (InfluxDB's `certificate`).
    pub server_combined: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TestPki {
    /// A fresh CA named `backhaul test CA <name>` and its two certificates.
    pub fn new(name: &str) -> TestPki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("backhaul test CA {name}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.is_ca = IsCa::ExplicitNoCa;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server_params
            .signed_by(&server_key, &ca, &ca_key)
            .expect("sign server certificate");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "backhaul test client");
        client_params.is_ca = IsCa::ExplicitNoCa;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params
            .signed_by(&client_key, &ca, &ca_key)
            .expect("sign client certificate");

        TestPki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server: Issued::new(&server, &server_key),
            client: Issued::new(&client, &client_key),
        }
    }

    /// The CA as a rustls root store.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("add CA");
        roots
    }

    /// A rustls server configuration presenting the server certificate
    /// (TLS 1.2 and 1.3, ring). With `require_client_cert`, clients must
    /// present a certificate signed by this CA.
    pub fn server_config(&self, require_client_cert: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if require_client_cert {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(vec![self.server.cert_der.clone()], self.server.key_der())
            .expect("server certificate and key");
        Arc::new(config)
    }

    /// Writes the PEM files into `dir` (which must exist).
    pub fn write_files(&self, dir: &Path) -> PkiFiles {
        let ca_dir = dir.join("ca.d");
        fs::create_dir_all(&ca_dir).expect("mkdir ca.d");
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            ca_dir: ca_dir.clone(),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            server_combined: dir.join("server-combined.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        let write = |path: &Path, text: &str| {
            fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()))
        };
        write(&files.ca, &self.ca_pem);
        write(&ca_dir.join("ca.pem"), &self.ca_pem);
        write(&files.server_cert, &self.server.cert_pem);
        write(&files.server_key, &self.server.key_pem);
        write(
            &files.server_combined,
            &format!("{}{}", self.server.cert_pem, self.server.key_pem),
        );
        write(&files.client_cert, &self.client.cert_pem);
        write(&files.client_key, &self.client.key_pem);
        files
    }
}
