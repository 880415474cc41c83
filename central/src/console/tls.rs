//! Serving the console's connections, over TLS itself (rustls with ring, TLS 1.2 and 1.3)
//! for a site without a reverse proxy, or plain on loopback or behind a proxy. Each
//! connection runs on its own task with the client's address given to the routes; a slow
//! or silent client holds up nobody else: the TLS handshake must end within
//! [`HANDSHAKE`], each request's header within [`HEADER_READ`] (also a kept-alive
//! connection's next one), its body within the routes' `REQUEST` deadline, and at most
//! [`CONNECTIONS`] are open at once — past that a new one is closed at once, so no client
//! can exhaust the process's files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::ConsoleError;

/// The server's TLS settings from a PEM certificate chain and its key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ConsoleError> {
    let what = |p: &Path, e: &dyn std::fmt::Display| ConsoleError::Serve(format!("{}: {e}", p.display()));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| what(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| what(cert, &e))?;
    if chain.is_empty() {
        return Err(ConsoleError::Serve(format!("{}: no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| what(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleError::Serve(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ConsoleError::Serve(format!("{}: {e}", cert.display())))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS handshake must end within this.
pub const HANDSHAKE: Duration = Duration::from_secs(10);
/// A request's header (the first byte to the blank line) must arrive within this.
pub const HEADER_READ: Duration = Duration::from_secs(10);
/// Connections open at once, at most.
pub const CONNECTIONS: usize = 1024;

/// Accepts connections until `stop` resolves, over TLS when `acceptor` is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<TlsAcceptor>,
    app: Router,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ConsoleError> {
    let open = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut stop => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("console: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            log::warn!("console: {CONNECTIONS} connections open; {peer} closed at once");
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        tokio::spawn(async move {
            let _permit = permit;
            let service = TowerToHyperService::new(app);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ);
            let served = match acceptor {
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => http.serve_connection(TokioIo::new(tls), service).with_upgrades().await,
                    Ok(Err(e)) => return log::info!("console: TLS handshake with {peer} failed: {e}"),
                    Err(_) => return,
                },
                None => http.serve_connection(TokioIo::new(tcp), service).with_upgrades().await,
            };
            if let Err(e) = served {
                log::debug!("console: connection with {peer}: {e}");
            }
        });
    }
}
