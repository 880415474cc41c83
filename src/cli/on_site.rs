//! The commands an electrician uses on site: status, sim, doctor, scan, pulse, watch and
//! intake — through the running daemon when there is one, otherwise directly.

use std::fmt::Write as _;

use jiff::Timestamp;

use portvakt::config::{self, Config, LoadOptions};
use portvakt::daemon::client::{self, ClientError};
use portvakt::daemon::control::{Request, SimAct};
use portvakt::exit;
use portvakt::store::{AuditFilter, StoreError, StoredRecord};
use portvakt::tools::{audit_view, doctor, installer, intake_run};

use super::args::Cli;
use super::{
    Failure, ask_at, ask_daemon, config_or_socket, config_path, daemon_required, fail, load_config, pick_bus, runtime,
    tool_error,
};

pub(crate) fn parse_units(s: &str) -> Result<std::ops::RangeInclusive<u8>, Failure> {
    let bad = || fail(exit::USAGE, format!("--units: \"{s}\" is not a range like 1-247"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u8, u8) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a == 0 || b > 247 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

pub(crate) fn scan_cmd(cli: &Cli, bus: Option<&String>, units: &str, tcp: Option<&String>) -> Result<String, Failure> {
    let mut cfg = load_config(&config_path(cli))?;
    let mut bus = pick_bus(&mut cfg, bus, tcp)?;
    if tcp.is_none()
        && let Some(at) = simulated_by_daemon(&cfg, &bus.name)?
    {
        eprintln!("portvakt: the running daemon simulates bus \"{}\": scanning its building at tcp://{at}", bus.name);
        bus.link = config::BusLink::Tcp { address: at };
    }
    let units = parse_units(units)?;
    let last = *units.end();
    let answers = runtime()?
        .block_on(installer::scan(&bus, units.clone(), |u| eprint!("\rscanning unit {u:>3} of {last}")))
        .map_err(tool_error)?;
    eprintln!();
    Ok(installer::render_scan(&bus, &answers, &units))
}

/// Where the running daemon serves its simulated building for `bus` (`run --simulate`),
/// if a daemon runs and simulates it.
fn simulated_by_daemon(cfg: &Config, bus: &str) -> Result<Option<String>, Failure> {
    let Some(v) = ask_daemon(cfg, &Request::Status)? else { return Ok(None) };
    let buses = v.pointer("/status/buses").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    Ok(buses
        .iter()
        .find(|b| b.get("name").and_then(serde_json::Value::as_str) == Some(bus))
        .and_then(|b| b.get("simulated_at").and_then(serde_json::Value::as_str))
        .map(str::to_owned))
}

pub(crate) fn status_cmd(cli: &Cli, json: bool) -> Result<String, Failure> {
    let v = match config_or_socket(cli)? {
        Ok(cfg) => daemon_required(&cfg, &Request::Status)?,
        Err(socket) => ask_at(&socket, &Request::Status)?.ok_or_else(|| {
            let e = ClientError::NotRunning(socket.display().to_string());
            fail(exit::UNAVAILABLE, e.to_string())
        })?,
    };
    if json {
        // The layout of the retained `state` (docs/mqtt.md), from the running daemon.
        let state = v.get("state").cloned().unwrap_or_default();
        return Ok(format!("{state:#}\n"));
    }
    Ok(v.get("text").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned())
}

pub(crate) fn doctor_cmd(cli: &Cli, json: bool, no_record: bool) -> Result<String, Failure> {
    let path = config_path(cli);
    let loaded = config::load(&LoadOptions::file(&path).with_process_env());
    let checked = loaded.as_ref().ok().cloned();
    let dir = checked.as_ref().map(doctor::state_dir);
    let report = runtime()?.block_on(doctor::run(&path, loaded));
    let mut out = if json { format!("{:#}\n", serde_json::json!(report)) } else { report.render() };
    if let (Some(dir), false) = (dir, no_record) {
        match doctor::save(&report, checked.as_ref(), &dir) {
            Ok(saved) if !json => {
                let _ = writeln!(out, "commissioning record: {}", saved.json.display());
                let _ = writeln!(out, "hand-over page:       {} (print it, sign it)", saved.page.display());
            }
            Ok(_) => {}
            Err(e) => eprintln!("portvakt: the commissioning record was not saved in {}: {e}", dir.display()),
        }
    }
    if report.failed() {
        print!("{out}");
        return Err(fail(exit::FAILURE, "some checks failed"));
    }
    Ok(out)
}

pub(crate) fn sim_cmd(cli: &Cli, door: &str, act: &str, value: Option<&String>) -> Result<String, Failure> {
    let cfg = load_config(&config_path(cli))?;
    let need =
        |what: &str| value.cloned().ok_or_else(|| fail(exit::USAGE, format!("`sim {door} {act}` needs the {what}")));
    let act = match act {
        "code" => SimAct::Code(need("digits")?),
        "tag" => SimAct::Tag(need("tag UID")?),
        "open" => SimAct::Open,
        "close" => SimAct::Close,
        "exit" => SimAct::Exit,
        other => {
            return Err(fail(exit::USAGE, format!("\"{other}\" is not an act; use code, tag, open, close or exit")));
        }
    };
    // What the door records afterwards is what `sim` says happened: read back from the
    // store, not assumed from the act.
    let store = portvakt::store::Store::open_read_only(&cfg.store.path).ok();
    let before = store.as_ref().map(|s| s.head().0);
    daemon_required(&cfg, &Request::Sim { door: door.to_owned(), act })?;
    let (Some(store), Some(before)) = (store, before) else {
        return Ok(format!(
            "{door}: done (the store {} cannot be read to say what followed)\n",
            cfg.store.path.display()
        ));
    };
    let filter = AuditFilter { door: Some(door.to_owned()), ..AuditFilter::default() };
    let records = match runtime()?.block_on(recorded_after(&store, &filter, before)) {
        Ok(records) => records,
        Err(e) => return Ok(format!("{door}: done (what followed cannot be read: {e})\n")),
    };
    if records.is_empty() {
        return Ok(format!("{door}: nothing recorded within {} s\n", SIM_WAIT.as_secs()));
    }
    Ok(audit_view::render_happened(&records, &cfg.policy.tz))
}

/// How long `sim` waits for the door to record what followed.
const SIM_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The door's records after `after`: polled until the first one, and then a little longer
/// for what follows it (the strike's outcome), at most `SIM_WAIT`.
async fn recorded_after(
    store: &portvakt::store::Store,
    filter: &AuditFilter,
    after: u64,
) -> Result<Vec<StoredRecord>, StoreError> {
    let deadline = tokio::time::Instant::now() + SIM_WAIT;
    let mut settle: Option<tokio::time::Instant> = None;
    loop {
        // A failed read is tried again until the deadline (the daemon may be mid-write);
        // one that still fails then is said, not taken for "nothing happened".
        let found = store.page(filter, after);
        let now = tokio::time::Instant::now();
        if found.as_ref().is_ok_and(|f| !f.is_empty()) && settle.is_none() {
            settle = Some(now + std::time::Duration::from_millis(300));
        }
        if now >= deadline || settle.is_some_and(|s| now >= s) {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub(crate) fn pulse_cmd(cli: &Cli, door: &str, tcp: Option<&String>) -> Result<String, Failure> {
    let mut cfg = match config_or_socket(cli)? {
        Ok(cfg) => cfg,
        // A broken config on disk: only the daemon (on the config it loaded) can pulse.
        Err(socket) if tcp.is_none() => {
            ask_at(&socket, &Request::Pulse { door: door.to_owned() })?.ok_or_else(|| {
                fail(exit::CONFIG, format!("no daemon answers on {}, and the config has problems", socket.display()))
            })?;
            return Ok(format!("door {door}: released for its pulse by the running daemon (audited)\n"));
        }
        Err(_) => return Err(fail(exit::CONFIG, "the config has problems (run check-config)")),
    };
    if tcp.is_none() && ask_daemon(&cfg, &Request::Pulse { door: door.to_owned() })?.is_some() {
        return Ok(format!("door {door}: released for its pulse by the running daemon (audited)\n"));
    }
    if tcp.is_some() {
        let relay_bus =
            cfg.policy.doors.iter().position(|d| d.id.as_str() == door).map(|i| cfg.wiring[i].relay.bus.clone());
        if let Some(name) = relay_bus {
            pick_bus(&mut cfg, Some(&name), tcp)?;
        }
    }
    runtime()?.block_on(installer::pulse(&cfg, door)).map_err(tool_error)
}

/// Resolves after `seconds`, or at Ctrl-C.
pub(crate) async fn until(seconds: Option<u64>) {
    match seconds {
        Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub(crate) fn watch_cmd(
    cli: &Cli,
    bus: Option<&String>,
    tcp: Option<&String>,
    seconds: Option<u64>,
) -> Result<String, Failure> {
    let mut cfg = load_config(&config_path(cli))?;
    let tz = cfg.policy.tz.clone();
    let seen = std::cell::Cell::new(0_u64);
    let print = |line: &str| {
        let now = Timestamp::now().to_zoned(tz.clone()).strftime("%H:%M:%S");
        println!("{now}  {line}");
        seen.set(seen.get() + 1);
    };
    let how_long = seconds.map_or_else(|| "until Ctrl-C".to_owned(), |s| format!("for {s} s"));
    eprintln!("watching {how_long}: keypad entries (never the digits), inputs, device outages");
    let summary = || format!("{} event(s) seen", seen.get());
    let rt = runtime()?;
    if tcp.is_none() && bus.is_none() {
        match rt.block_on(client::watch(&cfg.daemon.control_socket, print, until(seconds))) {
            Ok(()) => {
                eprintln!("{}", summary());
                return Ok(String::new());
            }
            Err(ClientError::NotRunning(_)) => {} // no daemon: watch the first bus directly
            Err(e) => return Err(fail(exit::FAILURE, e.to_string())),
        }
    }
    let bus = pick_bus(&mut cfg, bus, tcp)?;
    let show = |e: &portvakt::modbus::bus::BusEvent| print(&installer::describe_event(e));
    rt.block_on(installer::watch(&bus, show, until(seconds))).map_err(tool_error)?;
    eprintln!("{}", summary());
    Ok(String::new())
}

/// `portvakt intake`: through the running daemon when there is one (it is the store's one
/// writer), otherwise directly; exit 65 when a document was refused.
pub(crate) fn intake_cmd(cfg: &Config) -> Result<String, Failure> {
    let report = match ask_daemon(cfg, &Request::Intake)? {
        Some(v) => intake_run::IntakeReport {
            text: v.get("text").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned(),
            refused: v
                .get("refused")
                .and_then(serde_json::Value::as_u64)
                .map_or(0, |n| usize::try_from(n).unwrap_or(1)),
        },
        None => intake_run::run(cfg, Timestamp::now()).map_err(|e| {
            let code = match &e {
                intake_run::IntakeRunError::Store(s) if s.is_unusable() => exit::STORE,
                intake_run::IntakeRunError::Store(StoreError::Locked { .. }) => exit::UNAVAILABLE,
                _ => exit::FAILURE,
            };
            fail(code, e.to_string())
        })?,
    };
    if report.refused > 0 {
        print!("{}", report.text);
        return Err(fail(exit::DATA, format!("{} document(s) refused (see above)", report.refused)));
    }
    Ok(report.text)
}
