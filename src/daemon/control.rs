//! The control socket: a Unix stream socket in the runtime directory (mode 0660, so the
//! `portvakt` group — the installer's account — may use it) through which `portvakt
//! status`, `pulse`, `watch`, `intake` and `sim` reach the running daemon. One JSON request per
//! line in, JSON lines out (`{"ok":true,...}` or `{"ok":false,"error":"..."}`); `watch`
//! keeps streaming. Requests are capped in size and in time to arrive ([`READ_WITHIN`]),
//! connections in number; a bad request
//! gets an error reply and changes nothing. Pulses are audited as `door.pulsed`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::modbus::keypad::Entered;
use crate::site::local_socket::accept;
pub use crate::site::local_socket::{ControlError, bind};
use crate::site::reach::{Reach, status};
use crate::site::view::DoorsView;

/// Longest request line, in bytes.
pub const MAX_REQUEST: u64 = 4096;
/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 8;
/// How long a client has to send its request line (a client that connects and says
/// nothing must not hold one of the few connections).
pub const READ_WITHIN: Duration = Duration::from_secs(5);

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The daemon's state.
    Status,
    /// Release a door's strike for its pulse.
    Pulse {
        /// The door.
        door: String,
    },
    /// Stream bus events as they happen.
    Watch,
    /// Take in what waits in the inbox now (the daemon is the store's one writer).
    Intake,
    /// Act at a door of the simulated building (`sim` buses only).
    Sim {
        /// The door.
        door: String,
        /// What happens there.
        act: SimAct,
    },
}

/// Something done at a door of the simulated building.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(tag = "act", content = "value", rename_all = "snake_case")]
pub enum SimAct {
    /// Digits typed at the door's panel.
    Code(String),
    /// A tag held to the door's panel (UID in hex).
    Tag(String),
    /// The door is pushed open.
    Open,
    /// The door closes.
    Close,
    /// The exit button is pressed and let go.
    Exit,
}

/// Serves connections until `cancel`; removes the socket file then.
pub async fn serve(listener: UnixListener, path: PathBuf, reach: Reach, cancel: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    while let Some(stream) = accept(&listener, "control socket", &cancel).await {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = write_line(&mut stream, &refusal("too many connections; try again")).await;
            });
            continue;
        };
        let reach = reach.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = cancel.cancelled() => {}
                () = connection(stream, reach) => {}
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

fn refusal(why: &str) -> serde_json::Value {
    serde_json::json!({ "ok": false, "error": why })
}

async fn write_line(stream: &mut UnixStream, value: &serde_json::Value) -> std::io::Result<()> {
    let mut line = value.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).await
}

/// Reads one request line, bounded in size and in time.
async fn read_request(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Result<Request, String> {
    let mut line = String::new();
    let read = tokio::time::timeout(READ_WITHIN, BufReader::new(stream.take(MAX_REQUEST)).read_line(&mut line)).await;
    match read {
        Err(_) => Err(format!("no request line within {} s", READ_WITHIN.as_secs())),
        Ok(Ok(_)) if !line.ends_with('\n') => Err(format!("a request is one line of at most {MAX_REQUEST} bytes")),
        Ok(Ok(_)) => serde_json::from_str::<Request>(line.trim()).map_err(|e| format!("bad request: {e}")),
        Ok(Err(e)) => Err(format!("bad request: {e}")),
    }
}

async fn connection(mut stream: UnixStream, reach: Reach) {
    let request = read_request(&mut stream).await;
    let reply = match request {
        Err(why) => refusal(&why),
        Ok(Request::Watch) => return watch_stream(stream, reach).await,
        Ok(Request::Status) => {
            let report = status(&reach).await;
            let state = crate::uplink::payload::state(&report, jiff::Timestamp::now());
            serde_json::json!({ "ok": true, "text": report.render(), "status": report, "state": state })
        }
        Ok(Request::Pulse { door }) => match current(&reach) {
            None => refusal("the doors are restarting; try again"),
            Some(view) => match view.gateway.pulse(&door, crate::gateway::handle::Actor::local("control socket")).await
            {
                Ok(()) => serde_json::json!({ "ok": true }),
                Err(why) => refusal(&why),
            },
        },
        Ok(Request::Intake) => match reach.access.intake_now().await {
            Ok(r) => serde_json::json!({ "ok": true, "text": r.text, "refused": r.refused }),
            Err(why) => refusal(&why),
        },
        Ok(Request::Sim { door, act }) => match current(&reach).map(|v| sim(&v, &door, &act)) {
            None => refusal("the doors are restarting; try again"),
            Some(Ok(())) => serde_json::json!({ "ok": true }),
            Some(Err(why)) => refusal(&why),
        },
    };
    let _ = write_line(&mut stream, &reply).await;
}

fn current(reach: &Reach) -> Option<Arc<DoorsView>> {
    reach.doors.borrow().clone()
}

async fn watch_stream(mut stream: UnixStream, reach: Reach) {
    let Some(view) = current(&reach) else {
        let _ = write_line(&mut stream, &refusal("the doors are restarting; try again")).await;
        return;
    };
    let mut rx = view.gateway.observe();
    drop(view);
    // Said once subscribed: from here on the client misses nothing.
    if write_line(&mut stream, &serde_json::json!({ "ok": true, "watching": true })).await.is_err() {
        return;
    }
    loop {
        let line = match rx.recv().await {
            Ok(o) => format!("bus {}: {}", o.bus, crate::tools::installer::describe_event(&o.event)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => format!("({n} events not shown: too slow)"),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if write_line(&mut stream, &serde_json::json!({ "ok": true, "line": line })).await.is_err() {
            return;
        }
    }
}

fn sim(view: &DoorsView, door: &str, act: &SimAct) -> Result<(), String> {
    let cfg = &view.cfg;
    let i = cfg
        .policy
        .doors
        .iter()
        .position(|d| d.id.as_str() == door)
        .ok_or_else(|| format!("no door \"{door}\" in the configuration"))?;
    let wiring = &cfg.wiring[i];
    let sim_of = |bus: &str| {
        view.sims
            .iter()
            .find(|(b, _)| b == bus)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| format!("bus \"{bus}\" is not simulated (kind = \"sim\", or run with --simulate)"))
    };
    match act {
        SimAct::Code(digits) | SimAct::Tag(digits) => {
            let (bus, unit) = wiring.keypad.as_ref().ok_or_else(|| format!("door \"{door}\" has no panel"))?;
            let entered = match act {
                SimAct::Code(_) if digits.len() <= 16 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Entered::Digits(digits.as_str().into())
                }
                // The same forms `explain` and the CSV files take: 04:A2:19:7F, 04A2197F.
                SimAct::Tag(_) if crate::core::secret::check_tag(digits).is_ok() => {
                    let hex: String = digits.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
                    Entered::Tag(hex.to_ascii_uppercase().as_str().into())
                }
                SimAct::Tag(_) => {
                    return Err(format!("\"{digits}\" is not a tag UID (4 to 10 bytes in hex, e.g. 04:A2:19:7F)"));
                }
                _ => return Err(format!("\"{digits}\" is not a code (up to 16 digits)")),
            };
            sim_of(bus)?.enter(*unit, entered);
        }
        SimAct::Open | SimAct::Close => {
            let p = wiring.contact.as_ref().ok_or_else(|| format!("door \"{door}\" has no contact"))?;
            sim_of(&p.bus)?.set_input(p.unit, p.channel, (*act == SimAct::Open) != p.inverted);
        }
        SimAct::Exit => {
            let p = wiring.exit_button.as_ref().ok_or_else(|| format!("door \"{door}\" has no exit button"))?;
            let s = sim_of(&p.bus)?;
            s.set_input(p.unit, p.channel, !p.inverted);
            let (unit, channel, inverted) = (p.unit, p.channel, p.inverted);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                s.set_input(unit, channel, inverted);
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_says_nothing_is_answered_after_the_read_timeout() {
        let (_client, mut server) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        let why = read_request(&mut server).await.unwrap_err();
        assert_eq!(why, "no request line within 5 s");
        assert_eq!(started.elapsed(), READ_WITHIN);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_line_that_arrives_in_time_is_read() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"{\"cmd\":\"status\"}\n").await.unwrap();
        assert_eq!(read_request(&mut server).await, Ok(Request::Status));
    }
}
