//! `portvakt demo`: a scripted day and night at the example building, run through the
//! daemon's own door subsystem ([`Doors`]) — bus actors speaking Modbus TCP to the simulated building, the core
//! deciding, strikes pulsed, panels lit, everything committed to a real audit store — and
//! printed as a timeline from the audit log. At night a home care phone opens the
//! entrance over the simulated BLE transport (the same fragments as over the radio). No hardware, no broker, no root; a manual
//! clock walks through the day, so it finishes in seconds.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::ble::actor as ble_actor;
use crate::ble::exchange::Settings;
use crate::ble::limits::Rate;
use crate::ble::message::Code;
use crate::ble::phone::{Phone, PhoneExchange as _, SocketLink};
use crate::config::{BusLink, Config};
use crate::core::clock::ClockState;
use crate::core::decide::AccessState;
use crate::daemon::doors::Doors;
use crate::gateway::clock::ManualClock;
use crate::modbus::keypad::Entered;
use crate::store::{AuditFilter, Store, StoreOptions, StoredRecord};
use crate::tools::allowlist_file;
use crate::tools::time_input::parse_time;
use crate::uplink::standalone as uplink_standalone;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The trial allowlist is missing or bad.
    #[error(transparent)]
    Allowlist(#[from] allowlist_file::AllowlistFileError),
    /// The store or the network could not be set up.
    #[error("{0}")]
    Setup(String),
    /// The audit chain did not verify at the end.
    #[error("the audit chain is broken: {0}")]
    Chain(String),
}

/// One scripted moment.
enum Act {
    /// Someone enters digits or a tag at the panel (unit) of a door.
    Enter(u8, Entered),
    /// A door contact or button input changes.
    Input(u8, u16, bool),
    /// Time passes (the doors' timers run).
    Wait,
    /// The night-shift home care phone opens a door over BLE (the simulated transport).
    Phone(&'static str),
}

/// The demo's staff phone key (its public key is `care-night-3`'s in
/// `config/example-allowlist.toml`). A demo key, known to all: never in a real bundle.
pub const DEMO_PHONE_SEED: [u8; 32] = *b"portvakt demo: night care phone!";

struct Step {
    at: &'static str,
    say: &'static str,
    act: Act,
}

fn script() -> Vec<Step> {
    let digits = |d: &str| Entered::Digits(d.into());
    let tag = |t: &str| Entered::Tag(t.into());
    vec![
        Step {
            at: "2026-11-24T09:00",
            say: "Anna holds her tag at the laundry room during her booking (07-10)",
            act: Act::Enter(5, tag("04A2197F")),
        },
        Step {
            at: "2026-11-24T12:00",
            say: "Anna tries the laundry room again outside her booking",
            act: Act::Enter(5, tag("04A2197F")),
        },
        Step {
            at: "2026-11-24T14:00",
            say: "A visitor types the building's door code at the entrance",
            act: Act::Enter(1, digits("2580")),
        },
        Step { at: "2026-11-24T14:00:02", say: "...and opens the door", act: Act::Input(3, 1, true) },
        Step { at: "2026-11-24T14:00:06", say: "...which closes behind them", act: Act::Input(3, 1, false) },
        Step {
            at: "2026-11-24T15:10",
            say: "The waste contractor's tag at the rubbish room, a weekday afternoon",
            act: Act::Enter(4, tag("04112233445566")),
        },
        Step {
            at: "2026-11-24T17:30",
            say: "The same tag after the contractor's hours",
            act: Act::Enter(4, tag("04112233445566")),
        },
        Step {
            at: "2026-11-24T23:30",
            say: "Night: the door code at the entrance (night mode)",
            act: Act::Enter(1, digits("2580")),
        },
        Step { at: "2026-11-24T23:31", say: "Anna comes home and uses her tag", act: Act::Enter(1, tag("04A2197F")) },
        Step { at: "2026-11-24T23:31:03", say: "...opens the door within the pulse", act: Act::Input(3, 1, true) },
        Step { at: "2026-11-24T23:32:30", say: "...and leaves it standing open", act: Act::Wait },
        Step { at: "2026-11-24T23:33", say: "...until someone closes it", act: Act::Input(3, 1, false) },
        Step { at: "2026-11-24T23:40", say: "Someone tries codes at the entrance", act: Act::Enter(1, digits("1111")) },
        Step { at: "2026-11-24T23:40:05", say: "", act: Act::Enter(1, digits("2222")) },
        Step { at: "2026-11-24T23:40:10", say: "", act: Act::Enter(1, digits("3333")) },
        Step { at: "2026-11-24T23:40:15", say: "", act: Act::Enter(1, digits("4444")) },
        Step { at: "2026-11-24T23:40:20", say: "", act: Act::Enter(1, digits("5555")) },
        Step {
            at: "2026-11-24T23:40:25",
            say: "...and even the right PIN is refused during the lockout",
            act: Act::Enter(1, digits("4711")),
        },
        Step { at: "2026-11-25T02:10", say: "The entrance is pushed open with no grant", act: Act::Input(3, 1, true) },
        Step { at: "2026-11-25T02:10:20", say: "", act: Act::Input(3, 1, false) },
        Step { at: "2026-11-25T02:15", say: "A resident leaves with the exit button", act: Act::Input(3, 2, true) },
        Step { at: "2026-11-25T02:15:01", say: "", act: Act::Input(3, 2, false) },
        Step { at: "2026-11-25T02:15:02", say: "", act: Act::Input(3, 1, true) },
        Step { at: "2026-11-25T02:15:06", say: "", act: Act::Input(3, 1, false) },
        Step {
            at: "2026-11-25T02:40",
            say: "Night: home care staff open the entrance with their phone (BLE, no coverage needed)",
            act: Act::Phone("entrance"),
        },
        Step { at: "2026-11-25T02:40:04", say: "", act: Act::Input(3, 1, true) },
        Step { at: "2026-11-25T02:40:09", say: "", act: Act::Input(3, 1, false) },
        Step { at: "2026-11-25T02:41", say: "", act: Act::Wait },
    ]
}

fn what(r: &StoredRecord, tz: &jiff::tz::TimeZone) -> String {
    let e = &r.record.event;
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
    let s = |k: &str| detail.get(k).and_then(serde_json::Value::as_str).unwrap_or("").to_owned();
    let who = e.holder.as_deref().map_or_else(String::new, |h| format!(" ({h})"));
    let during =
        detail.get("schedule").and_then(|v| v.as_str()).map_or_else(String::new, |x| format!(" during \"{x}\""));
    match e.kind.code() {
        "access.granted" if s("rule") == "role" => format!("OPENS{who}: role {}{during}", s("role")),
        "access.granted" => format!("OPENS{who}: {}{during}", s("rule").replace('_', " ")),
        "access.denied" => format!("STAYS SHUT{who}: {}", s("reason").replace('_', " ")),
        "keypad.locked_out" => {
            let until = s("until")
                .parse::<Timestamp>()
                .map_or_else(|_| s("until"), |t| t.to_zoned(tz.clone()).strftime("%H:%M:%S").to_string());
            format!("keypad locked until {until}")
        }
        other => other.replace(['.', '_'], " "),
    }
}

/// Lets the bus and the gateway settle: waits until the log stops growing, printing the
/// records after the first `seen`; returns how many there are now.
async fn settle(
    store: &crate::store::Handle,
    mut seen: usize,
    tz: &jiff::tz::TimeZone,
    out: &mut String,
) -> Result<usize, DemoError> {
    let mut quiet = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let records = store.query(AuditFilter::default()).await.map_err(|e| DemoError::Setup(e.to_string()))?;
        if records.len() == seen {
            quiet += 1;
            if quiet >= 5 {
                break;
            }
        } else {
            quiet = 0;
            for r in &records[seen..] {
                let door = r.record.event.door.as_deref().unwrap_or("-");
                let _ = writeln!(out, "           #{:<3} {door:<9} {}", r.record.seq, what(r, tz));
            }
            seen = records.len();
        }
    }
    Ok(seen)
}

/// Serves phones over the simulated BLE transport on a socket in `dir`, as the daemon
/// does with `[ble] socket`; returns the socket and what keeps the service alive.
async fn start_phones(
    cfg: &Config,
    dir: &Path,
    view: &Arc<crate::site::view::DoorsView>,
    store: &crate::store::Handle,
    clock: &ManualClock,
) -> Result<(std::path::PathBuf, PhoneService), DemoError> {
    let path = dir.join("ble.sock");
    let listener = crate::site::local_socket::bind(&path).await.map_err(|e| DemoError::Setup(e.to_string()))?;
    let (doors_tx, doors) = tokio::sync::watch::channel(Some(view.clone()));
    let (trust_tx, trust) = tokio::sync::watch::channel(ClockState::trusted());
    let (settings_tx, reconfigure) = tokio::sync::watch::channel(None);
    let settings = ble_actor::settings(cfg).unwrap_or_else(|| Settings {
        site: cfg.site.id.to_string(),
        challenge_valid: SignedDuration::from_secs(5),
        max_exchanges: 32,
        rate: Rate { burst: 5, per_minute: 10 },
    });
    let reach = ble_actor::Reach { doors, store: store.clone(), access: None, trust };
    let (events, events_rx) = tokio::sync::mpsc::channel(crate::ble::link::EVENTS);
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::ble::socket::serve(listener, path.clone(), events, cancel.clone()));
    let start = ble_actor::Start { settings, reach, clock: Arc::new(clock.clone()), reconfigure };
    tokio::spawn(ble_actor::run(start, events_rx, cancel.clone()));
    let service =
        PhoneService { _doors: doors_tx, _trust: trust_tx, _settings: settings_tx, _stop: cancel.drop_guard() };
    Ok((path, service))
}

/// Keeps the demo's phone service running until dropped (the actor stops when its
/// inputs close or the guard cancels it).
struct PhoneService {
    _doors: tokio::sync::watch::Sender<Option<Arc<crate::site::view::DoorsView>>>,
    _trust: tokio::sync::watch::Sender<ClockState>,
    _settings: tokio::sync::watch::Sender<Option<Settings>>,
    _stop: tokio_util::sync::DropGuard,
}

/// The night-shift phone opens `door` over the socket; returns what the phone shows.
async fn phone_opens(socket: &Path, door: &str) -> Result<Code, DemoError> {
    let phone = Phone { key: ed25519_dalek::SigningKey::from_bytes(&DEMO_PHONE_SEED).into(), certificate: None };
    let setup = |e: &dyn std::fmt::Display| DemoError::Setup(format!("the demo phone: {e}"));
    let mut link = SocketLink::connect(socket, 185).await.map_err(|e| setup(&e))?;
    phone.open_door(&mut link, door).await.map_err(|e| setup(&e))
}

/// Runs the demo with the config at `config_path` (its buses are replaced by the
/// simulated building) and the trial allowlist at `allowlist`; returns the timeline.
fn start_uplink(
    cfg: &Config,
    view: &Arc<crate::site::view::DoorsView>,
    store: &crate::store::Handle,
    clock: &ManualClock,
    out: &mut String,
) -> Option<uplink_standalone::Standalone> {
    let up = cfg.uplink.as_ref()?;
    let _ = writeln!(out, "publishing to {} under {}/", up.url(), up.prefix);
    // The timeline is printed at the end; say now what the wait is for.
    eprintln!(
        "portvakt demo: publishing to {} (the day is printed when it is done; up to 10 s more for the broker)",
        up.url()
    );
    Some(uplink_standalone::start(Arc::new(cfg.clone()), view.clone(), store.clone(), Arc::new(clock.clone())))
}

/// Lets the uplink publish what is left, stops it, and says how it went.
async fn finish_uplink(
    uplink: uplink_standalone::Standalone,
    store: &crate::store::Handle,
    out: &mut String,
) -> Result<(), DemoError> {
    let status = uplink.finish(Duration::from_secs(10)).await.unwrap_or_default();
    let left = store.health().await.map_or(u64::MAX, |h| h.outbox_depth);
    match (status.connections, left) {
        (0, _) => {
            let why = status.last_error.unwrap_or_else(|| "no answer".into());
            Err(DemoError::Setup(format!("the broker at {} was not reached: {why}", status.broker)))
        }
        (_, 0) => {
            let _ = writeln!(out, "uplink: every record published to {} and acknowledged", status.broker);
            Ok(())
        }
        (_, n) => {
            let _ = writeln!(out, "uplink: {n} record(s) not acknowledged by {} in time", status.broker);
            Ok(())
        }
    }
}

/// With `mqtt` (a broker URL) the timeline is also published there, as the daemon's
/// uplink would: birth, state, door states and the event stream.
pub fn run(cfg: &Config, allowlist: &Path, keep_running: bool, mqtt: Option<&str>) -> Result<String, DemoError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    rt.block_on(run_async(cfg.clone(), allowlist, keep_running, mqtt))
}

/// Says where each simulated bus is served; returns the addresses.
fn announce_buses(cfg: &Config, out: &mut String) -> Vec<String> {
    cfg.buses
        .iter()
        .filter_map(|b| match &b.link {
            BusLink::Tcp { address } => {
                let _ = writeln!(
                    out,
                    "simulated bus \"{}\" ({} devices) on modbus tcp://{address}",
                    b.name,
                    b.devices.len()
                );
                Some(address.clone())
            }
            _ => None,
        })
        .collect()
}

/// The last words of a demo that keeps running: where its building answers, what to try.
fn keeps_running(served: &[String], dir: &Path, out: &mut String) {
    for address in served {
        let _ = writeln!(
            out,
            "the simulated building keeps running on modbus tcp://{address} (Ctrl-C stops it): try\n  \
             portvakt --config config/portvakt.toml scan --units 1-5 --tcp {address}\n  \
             portvakt --config config/portvakt.toml watch --tcp {address}"
        );
    }
    let _ = writeln!(out, "store: {}", dir.display());
}

async fn run_async(
    mut cfg: Config,
    allowlist: &Path,
    keep_running: bool,
    mqtt: Option<&str>,
) -> Result<String, DemoError> {
    let trial = allowlist_file::load(&cfg, &allowlist.display().to_string())?;
    cfg.uplink = mqtt.map(|url| uplink_standalone::for_url(&cfg, url)).transpose().map_err(DemoError::Setup)?;
    let dir = std::env::temp_dir().join(format!("portvakt-demo-{}", std::process::id()));
    cfg.intake.inbox = dir.join("inbox");
    let store = Store::open(&StoreOptions {
        path: dir.join("portvakt.db"),
        max_size_bytes: 64 << 20,
        retention: SignedDuration::from_hours(24 * 30),
        kept_locally: cfg.uplink.is_none(),
        personal: cfg.store.personal.clone(),
    })
    .map_err(|e| DemoError::Setup(e.to_string()))?;
    let (store, _store_thread) = crate::store::actor::spawn(store).map_err(|e| DemoError::Setup(e.to_string()))?;

    let start: Timestamp = parse_time("2026-11-24T08:00", &cfg.policy.tz).map_err(DemoError::Setup)?;
    let clock = ManualClock::new(start);
    for b in &mut cfg.buses {
        b.link = BusLink::Sim;
    }
    let state = AccessState {
        allowlist: trial.allowlist,
        bookings: trial.bookings,
        clock: crate::core::clock::ClockTrust::Trusted,
        ..AccessState::default()
    };
    let doors = Doors::start(Arc::new(cfg.clone()), state, store.clone(), Arc::new(clock.clone()))
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let view = doors.view();
    let mut out = String::new();
    let uplink = start_uplink(&cfg, &view, &store, &clock, &mut out);
    let served = announce_buses(&view.cfg, &mut out);
    let (phone_socket, _phones) = start_phones(&cfg, &dir, &view, &store, &clock).await?;
    let Some((_, sim)) = view.sims.first().cloned() else {
        return Err(DemoError::Setup("the config has no bus".into()));
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // devices come online

    let _ = writeln!(
        out,
        "\n{} — a scripted day and night (times are {} local)\n",
        cfg.site.name,
        cfg.policy.tz.iana_name().unwrap_or("site")
    );
    let mut seen = store.query(AuditFilter::default()).await.map_err(|e| DemoError::Setup(e.to_string()))?.len();
    for step in script() {
        let at = parse_time(step.at, &cfg.policy.tz).map_err(DemoError::Setup)?;
        clock.set(at);
        if !step.say.is_empty() {
            let _ = writeln!(out, "{}  {}", at.to_zoned(cfg.policy.tz.clone()).strftime("%a %H:%M"), step.say);
        }
        match step.act {
            Act::Enter(unit, e) => sim.enter(unit, e),
            Act::Input(unit, ch, on) => sim.set_input(unit, ch, on),
            Act::Wait => {}
            Act::Phone(door) => {
                let code = phone_opens(&phone_socket, door).await?;
                let _ = writeln!(out, "           phone: {} (over {})", code.word(), phone_socket.display());
            }
        }
        seen = settle(&store, seen, &cfg.policy.tz, &mut out).await?;
    }
    let report = store.verify().await.map_err(|e| DemoError::Setup(e.to_string()))?;
    if let Some(b) = report.first_break {
        return Err(DemoError::Chain(b.to_string()));
    }
    let _ = writeln!(
        out,
        "\n{} audit records, hash chain verified; relay writes: {}",
        report.checked,
        sim.relay_writes().len()
    );
    let uplinked = match uplink {
        Some(uplink) => finish_uplink(uplink, &store, &mut out).await,
        None => Ok(()),
    };
    if keep_running && uplinked.is_ok() {
        keeps_running(&served, &dir, &mut out);
        print!("{out}");
        out.clear();
        let _ = tokio::signal::ctrl_c().await;
    }
    // The demo's files go whatever happened (a broker not reached, Ctrl-C).
    let _ = std::fs::remove_dir_all(&dir);
    uplinked.map(|()| out)
}
