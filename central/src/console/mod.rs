//! The operators' console: `portvakt-central serve` — the fleet, a site's doors updating
//! live, alarms and acknowledging them, visit lists with print and CSV, in a browser, in
//! Swedish (English second). Server-rendered pages (axum, maud) with one small script for
//! the live parts (server-sent events, fed by PostgreSQL's LISTEN/NOTIFY from the
//! collectors); assets built into the binary. Local accounts with roles
//! ([`accounts`]), sessions and a login limiter ([`session`]); every login, refusal,
//! export and view of personal data in the console's own log. TLS served here
//! (`tls.rs`) or by a reverse proxy in front; plain HTTP only on loopback.

pub mod accounts;
pub mod actions;
pub mod catalogue;
mod check_page;
mod handlers;
pub mod i18n;
mod live;
mod log_words;
mod pages;
pub mod session;
mod spreadsheet;
mod statement;
mod tls;
mod visit_page;

use std::net::SocketAddr;
use std::sync::Arc;

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
    /// The staff side, when configured.
    pub staff: Option<Arc<crate::staff::StaffSide>>,
    /// The demo only: a gateway's simulated BLE socket the staff app may reach over HTTP
    /// when its browser has no Web Bluetooth (`handlers/simulated_door.rs`).
    pub simulated_door: Option<std::path::PathBuf>,
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

/// Connections to PostgreSQL the console's requests use at once, at most: one slow page
/// (or a login's password check) no longer holds up everyone else's.
pub const POOL: usize = 8;

/// A pool of PostgreSQL connections for the console's requests: a request takes one for
/// its queries and gives it back when done; a lost one is made again.
pub struct Db {
    url: String,
    idle: std::sync::Mutex<Vec<Client>>,
    permits: tokio::sync::Semaphore,
}

/// One connection of the pool, given back when dropped.
pub struct Pooled<'a> {
    db: &'a Db,
    client: Option<Client>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().unwrap_or_else(|| unreachable!("a pooled connection is there until dropped"))
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!("a pooled connection is there until dropped"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take().filter(|c| !c.is_closed())
            && let Ok(mut idle) = self.db.idle.lock()
        {
            idle.push(c);
        }
    }
}

impl Db {
    /// A pool for `url`, starting with `first`.
    pub fn new(url: &str, first: Client) -> Self {
        Self {
            url: url.to_owned(),
            idle: std::sync::Mutex::new(vec![first]),
            permits: tokio::sync::Semaphore::new(POOL),
        }
    }

    /// A connection (waiting while [`POOL`] are in use; connecting when none is idle).
    pub async fn get(&self) -> Result<Pooled<'_>, DbError> {
        let permit =
            self.permits.acquire().await.map_err(|_| DbError::Damaged("the console's pool is closed".into()))?;
        let idle = self.idle.lock().ok().and_then(|mut i| {
            while let Some(c) = i.pop() {
                if !c.is_closed() {
                    return Some(c);
                }
            }
            None
        });
        let client = match idle {
            Some(c) => c,
            None => db::connect(&self.url).await?,
        };
        Ok(Pooled { db: self, client: Some(client), _permit: permit })
    }
}

/// What every request shares.
pub struct State {
    /// The database.
    pub db: Db,
    /// Failed logins.
    pub limiter: std::sync::Mutex<session::Limiter>,
    /// Sites whose state, doors, alarms or records changed, with their rows.
    pub live: Arc<live::Live>,
    /// Take the client's address from the proxy's `X-Forwarded-For`.
    pub behind_proxy: bool,
    /// Cookies are `Secure` (TLS here or at the proxy).
    pub secure: bool,
    /// The staff side (shift certificates), when configured.
    pub staff: Option<Arc<crate::staff::StaffSide>>,
    /// The demo's simulated door, when the demo set one up.
    pub simulated_door: Option<Arc<handlers::simulated_door::SimulatedDoor>>,
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
        db: Db::new(&o.db, client),
        limiter: std::sync::Mutex::default(),
        live: live::listen(o.db.clone()),
        behind_proxy: o.behind_proxy,
        secure: o.behind_proxy || acceptor.is_some(),
        staff: o.staff.clone(),
        simulated_door: o.simulated_door.clone().map(|p| {
            let door = Arc::new(handlers::simulated_door::SimulatedDoor::new(p));
            handlers::simulated_door::keep_swept(door.clone());
            door
        }),
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
