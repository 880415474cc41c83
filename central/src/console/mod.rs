//! The operators' console: `portvakt-central serve` — the fleet, a site's doors updating
//! live, alarms and acknowledging them, visit lists with print and CSV, in a browser, in
//! Swedish (English second). Server-rendered pages (axum, maud) with one small script for
//! the live parts (server-sent events, fed by PostgreSQL's LISTEN/NOTIFY from the
//! collectors); assets built into the binary. Local accounts with roles
//! ([`accounts`]), sessions and a login limiter ([`session`]); every login, refusal,
//! export and view of personal data in the console's own log. TLS served here
//! (`tls.rs`) or by a reverse proxy in front; plain HTTP only on loopback.

pub mod accounts;
mod check_page;
mod handlers;
pub mod i18n;
mod live;
mod pages;
pub mod session;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Mutex, broadcast};
use tokio_postgres::Client;

use crate::db::{self, DbError};

/// How the console is served.
#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL.
    pub db: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// A reverse proxy in front terminates TLS (cookies are then `Secure`, and the
    /// proxy's `X-Forwarded-For` names the client).
    pub behind_proxy: bool,
    /// Serve TLS itself: the certificate chain and its key (PEM).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// Why the console could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The database failed at start.
    #[error("{0}")]
    Db(#[from] DbError),
    /// The address cannot be used, or serving failed.
    #[error("{0}")]
    Serve(String),
}

/// One PostgreSQL connection for the console's requests, made again when it was lost.
pub struct Db {
    url: String,
    client: Mutex<Option<Client>>,
}

impl Db {
    /// The connection (connecting if needed), held for one request's queries.
    pub async fn get(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Client>, DbError> {
        let mut guard = self.client.lock().await;
        let client = match guard.take() {
            Some(c) if !c.is_closed() => c,
            _ => db::connect(&self.url).await?,
        };
        *guard = Some(client);
        tokio::sync::MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| DbError::Damaged("the console's connection vanished".into()))
    }
}

/// What every request shares.
pub struct State {
    /// The database.
    pub db: Db,
    /// Failed logins.
    pub limiter: std::sync::Mutex<session::Limiter>,
    /// Sites whose state, doors, alarms or records changed.
    pub changes: broadcast::Sender<String>,
    /// Take the client's address from the proxy's `X-Forwarded-For`.
    pub behind_proxy: bool,
    /// Cookies are `Secure` (TLS here or at the proxy).
    pub secure: bool,
}

/// Serves until Ctrl-C; `ready` is told the bound address.
pub async fn serve(o: Options, ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>) -> Result<(), ConsoleError> {
    if !o.listen.ip().is_loopback() && !o.behind_proxy && o.tls.is_none() {
        return Err(ConsoleError::Serve(format!(
            "--listen {}: plain HTTP only on loopback; give --tls-cert and --tls-key, or put a reverse proxy with TLS in front and say --behind-proxy (docs/central.md)",
            o.listen
        )));
    }
    let acceptor = o.tls.as_ref().map(|(cert, key)| tls::acceptor(cert, key)).transpose()?;
    let mut client = db::connect(&o.db).await?;
    db::migrate(&mut client).await?;
    let state = Arc::new(State {
        db: Db { url: o.db.clone(), client: Mutex::new(Some(client)) },
        limiter: std::sync::Mutex::default(),
        changes: live::listen(o.db.clone()),
        behind_proxy: o.behind_proxy,
        secure: o.behind_proxy || acceptor.is_some(),
    });
    let listener =
        tokio::net::TcpListener::bind(o.listen).await.map_err(|e| ConsoleError::Serve(format!("{}: {e}", o.listen)))?;
    let bound = listener.local_addr().map_err(|e| ConsoleError::Serve(e.to_string()))?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    log::info!("the console answers on {scheme}://{bound}/");
    if let Some(r) = ready {
        let _ = r.send(bound);
    }
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tls::serve(listener, acceptor, handlers::router(state), stop).await
}
