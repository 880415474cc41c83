//! The demo's simulated door for the staff app in a browser without Web Bluetooth
//! (`/personal/simulerad-port`, only when `demo` sets it up): the same BLE fragments the
//! radio would carry, passed between the app and one gateway's simulated BLE socket over
//! HTTP. It decides nothing — the gateway does, as over the radio — and is never set up
//! by `serve`. At most 16 links at once, each by an id nobody can guess; one unused for
//! 60 s is dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{Mutex, mpsc};

use super::AppState;
use super::staff::json_answer;

/// Links open at once, at most.
const MAX_LINKS: usize = 16;
/// A link unused this long is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// How long one `GET` waits for the gateway's next fragment.
const WAIT: Duration = Duration::from_secs(10);
/// The MTU the bridge announces (the smallest: the app's fragments fit it).
const MTU: u16 = 23;

/// One phone's link: its writes and the gateway's fragments each behind their own lock,
/// so a fragment can go out while the app still waits for one.
struct Link {
    write: Mutex<OwnedWriteHalf>,
    frames: Mutex<mpsc::Receiver<Vec<u8>>>,
    used: std::sync::Mutex<Instant>,
}

impl Link {
    fn touch(&self) {
        if let Ok(mut u) = self.used.lock() {
            *u = Instant::now();
        }
    }

    fn idle(&self) -> bool {
        self.used.lock().map_or(true, |u| u.elapsed() >= IDLE)
    }
}

/// The bridge to one gateway's simulated BLE socket.
pub struct SimulatedDoor {
    socket: PathBuf,
    links: std::sync::Mutex<HashMap<u64, Arc<Link>>>,
}

impl SimulatedDoor {
    /// A bridge to the socket at `socket` (a gateway's `[ble] socket`).
    pub fn new(socket: PathBuf) -> Self {
        Self { socket, links: std::sync::Mutex::new(HashMap::new()) }
    }

    fn link(&self, id: u64) -> Option<Arc<Link>> {
        self.links.lock().ok()?.get(&id).cloned()
    }

    /// Drops links idle for [`IDLE`] (their sockets close, their readers end); how many
    /// are left.
    pub fn sweep(&self) -> usize {
        self.links.lock().map_or(0, |mut links| {
            links.retain(|_, l| !l.idle());
            links.len()
        })
    }
}

/// Sweeps `door`'s idle links every 10 s for as long as the console runs.
pub fn keep_swept(door: Arc<SimulatedDoor>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            door.sweep();
        }
    });
}

fn fragment_answer(f: &[u8]) -> Response {
    json_answer(StatusCode::OK, &json!({ "fragment": portvakt_wire::hex::encode(f) }))
}

/// `POST /personal/simulerad-port`: a new link, as a phone connecting at the door.
pub(super) async fn open(Shared(s): Shared<AppState>) -> Response {
    let Some(door) = s.simulated_door.as_deref() else { return StatusCode::NOT_FOUND.into_response() };
    if door.sweep() >= MAX_LINKS {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let Ok(random) = crate::console::session::random_bytes() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut id_bytes = [0u8; 8];
    id_bytes.copy_from_slice(&random[..8]);
    // Not guessable: another page in the same browser cannot write into this one's link.
    let id = u64::from_be_bytes(id_bytes) >> 11;
    let stream = match UnixStream::connect(&door.socket).await {
        Ok(s) => s,
        Err(e) => {
            log::warn!("simulated door {}: {e}", door.socket.display());
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let (mut read, mut write) = stream.into_split();
    if write.write_all(&MTU.to_be_bytes()).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let (tx, frames) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let mut len = [0u8; 2];
            if read.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut f = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if read.read_exact(&mut f).await.is_err() || tx.send(f).await.is_err() {
                return;
            }
        }
    });
    let Ok(mut links) = door.links.lock() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    if links.len() >= MAX_LINKS {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let link =
        Link { write: Mutex::new(write), frames: Mutex::new(frames), used: std::sync::Mutex::new(Instant::now()) };
    links.insert(id, Arc::new(link));
    json_answer(StatusCode::OK, &json!({ "link": id }))
}

/// The body of a fragment sent: `{"fragment": hex}`.
#[derive(serde::Deserialize)]
struct Fragment {
    fragment: String,
}

/// `POST /personal/simulerad-port/{id}`: one fragment to the gateway.
pub(super) async fn send(Shared(s): Shared<AppState>, Path(id): Path<u64>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Fragment>(&body) else { return StatusCode::BAD_REQUEST.into_response() };
    let Some(link) = s.simulated_door.as_deref().and_then(|d| d.link(id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(bytes) = portvakt_wire::hex::decode(&body.fragment).filter(|b| !b.is_empty() && b.len() <= 512) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    link.touch();
    let mut framed = u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    let sent = tokio::time::timeout(WAIT, async { link.write.lock().await.write_all(&framed).await.is_ok() })
        .await
        .unwrap_or(false);
    if sent { StatusCode::NO_CONTENT.into_response() } else { StatusCode::GONE.into_response() }
}

/// `GET /personal/simulerad-port/{id}`: the gateway's next fragment, or 204 after 10 s.
pub(super) async fn next(Shared(s): Shared<AppState>, Path(id): Path<u64>) -> Response {
    let Some(link) = s.simulated_door.as_deref().and_then(|d| d.link(id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    link.touch();
    let mut frames = link.frames.lock().await;
    match tokio::time::timeout(WAIT, frames.recv()).await {
        Ok(Some(f)) => fragment_answer(&f),
        Ok(None) => StatusCode::GONE.into_response(),
        Err(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `POST /personal/simulerad-port/{id}/stang`: the phone leaves.
pub(super) async fn close(Shared(s): Shared<AppState>, Path(id): Path<u64>) -> Response {
    if let Some(door) = s.simulated_door.as_deref()
        && let Ok(mut links) = door.links.lock()
    {
        links.remove(&id);
    }
    StatusCode::NO_CONTENT.into_response()
}
