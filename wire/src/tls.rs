//! The TLS client both sides of the uplink use towards the broker: rustls with the ring
//! provider (no aws-lc build), TLS 1.3 or 1.2, the broker's CA and a client certificate
//! (the gateway's, whose CN is its site; or the collector's), all from PEM bytes.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Builds the rustls client configuration from PEM files: the broker's CA (one or more
/// certificates), the client's certificate chain and its private key; the error names the file
/// (`ca_file`, `cert_file`, `key_file`) and what is wrong.
pub fn tls_client(ca: &[u8], cert: &[u8], key: &[u8]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca_file: not PEM certificates ({e})"))?;
    if cas.is_empty() {
        return Err("ca_file: no certificate in it".into());
    }
    for c in cas {
        roots.add(c).map_err(|e| format!("ca_file: {e}"))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cert_file: not PEM certificates ({e})"))?;
    if chain.is_empty() {
        return Err("cert_file: no certificate in it".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("key_file: no usable private key ({e})"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))
}
