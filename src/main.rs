//! `portvakt`: the gateway's command line. Parses arguments, loads and validates the
//! configuration, calls into the library and maps errors to exit codes; nothing else.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use portvakt::config::{self, Config, ConfigError, LoadOptions};
use portvakt::core::allowlist::{Allowlist, Revocations};
use portvakt::core::booking::Bookings;
use portvakt::core::clock::{ClockTrust, UntrustedReason};
use portvakt::core::credential::{PhoneKey, Token};
use portvakt::core::decide::{AccessRequest, AccessState, decide};
use portvakt::core::ids::{CredentialId, DoorId};
use portvakt::core::model::DoorMode;
use portvakt::core::secret::{check_pin, check_tag};
use portvakt::credentials::registry::{Built, Registry};
use portvakt::credentials::verify::Trust;
use portvakt::daemon::client::{self, ClientError};
use portvakt::daemon::control::{Request, SimAct};
use portvakt::daemon::logging;
use portvakt::exit;
use portvakt::store::{AuditFilter, Store, StoreError};
use portvakt::tools::{
    allowlist_file, audit_anchor, audit_view, doctor, explain, in_force, installer, intake_run, summary, time_input,
    week_grid,
};

/// Portvakt: the gateway for a building's shared doors.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The main configuration file; conf.d/*.toml beside it is read too
    /// (default /etc/portvakt/portvakt.toml; for `demo`, config/portvakt.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scripted day and night at the example building against a simulated
    /// building over Modbus TCP, and print the timeline. Needs no hardware.
    Demo {
        /// The trial allowlist with the demo's residents and staff.
        #[arg(long, default_value = "config/example-allowlist.toml")]
        allowlist: PathBuf,
        /// Keep the simulated building running afterwards (Ctrl-C stops it).
        #[arg(long)]
        keep_running: bool,
        /// Also publish to this MQTT broker (`mqtt://127.0.0.1:1883` for a local test broker;
        /// mqtts:// uses the certificates of the config's [uplink]).
        #[arg(long, value_name = "URL")]
        mqtt: Option<String>,
    },
    /// Run the gateway daemon (under systemd: `Type=notify`; SIGHUP reloads the config).
    Run {
        /// Replace every bus by the simulated building (no hardware needed); act at its
        /// doors with `portvakt sim`.
        #[arg(long)]
        simulate: bool,
    },
    /// Show the running daemon's state: doors, devices, clock, store, bundles.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Act at a door of the running daemon's simulated building.
    Sim {
        /// The door.
        door: String,
        /// What happens: code DIGITS, tag UID, open, close, exit.
        act: String,
        /// The digits or the tag UID.
        value: Option<String>,
    },
    /// The on-site checklist: config, state directory, store, bundles, every device, time.
    /// Saves a commissioning record in the state directory; exit 1 if anything failed.
    Doctor {
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// Do not save the commissioning record.
        #[arg(long)]
        no_record: bool,
    },
    /// Check the configuration: a summary and exit 0, or every problem and exit 78.
    CheckConfig,
    /// Explain whether a credential opens a door at a time, and why.
    Explain(ExplainArgs),
    /// The local audit log: visit lists and the hash-chain check.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Take in the signed bundles and revocation lists waiting in the inbox, once.
    Intake,
    /// Find which Modbus unit ids answer on a bus, and how.
    Scan {
        /// The bus (default: the first in the config).
        #[arg(long)]
        bus: Option<String>,
        /// Unit ids to try, e.g. 1-247 or 1-10.
        #[arg(long, default_value = "1-247")]
        units: String,
        /// Reach the bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
    },
    /// Release one door's strike for its pulse (through the running daemon, or directly
    /// on the bus when none runs).
    Pulse {
        /// The door.
        door: String,
        /// Reach the door's bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
    },
    /// Show keypad entries, inputs and device outages as they happen (through the running
    /// daemon, or directly on a bus when none runs).
    Watch {
        /// The bus (default: the first in the config).
        #[arg(long)]
        bus: Option<String>,
        /// Reach the bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Show a week grid of when each door is open, per role.
    Schedule {
        /// Only this door.
        #[arg(long)]
        door: Option<String>,
        /// ISO week, e.g. 2026-W52 (default: this week).
        #[arg(long)]
        week: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and report the first break, and the newest signed
    /// checkpoint (exit 65 if broken, cut short or rewritten).
    Verify {
        /// The store file (default: from the configuration).
        #[arg(long)]
        db: Option<PathBuf>,
        /// A checkpoint a collector kept (the `audit.checkpoint` record as JSON, or its
        /// detail): the store must still hold the record it covers, with that hash.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// List recorded events: who entered where, when.
    List(AuditListArgs),
}

#[derive(Args)]
struct AuditListArgs {
    /// The store file (default: from the configuration). Times are in the site's zone when the
    /// configuration loads, else in UTC (the header names the zone).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Only this door.
    #[arg(long)]
    door: Option<String>,
    /// Only this holder.
    #[arg(long)]
    holder: Option<String>,
    /// From this time (site time or RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Until this time (exclusive).
    #[arg(long)]
    until: Option<String>,
    /// At most this many, the newest.
    #[arg(long)]
    limit: Option<u32>,
    /// One JSON object per line, with chain hashes.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("token").required(true).args(["pin", "tag", "phone"]))]
struct ExplainArgs {
    /// The door.
    #[arg(long)]
    door: String,
    /// A PIN or the door code, as typed on the keypad.
    #[arg(long)]
    pin: Option<String>,
    /// A tag UID in hexadecimal (04:A2:19:7F).
    #[arg(long)]
    tag: Option<String>,
    /// A phone key: 64 hex digits, or the id of a phone credential in the allowlist.
    #[arg(long)]
    phone: Option<String>,
    /// When: site time (2026-11-24T23:30) or RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// A trial allowlist with credentials and bookings (TOML); without it, the gateway's
    /// own accepted credentials from its store.
    #[arg(long)]
    allowlist: Option<PathBuf>,
    /// Decide as if the clock were not trusted.
    #[arg(long)]
    untrusted_clock: bool,
    /// Decide as if the door were in this mode.
    #[arg(long, value_enum, default_value_t = Mode::Normal)]
    mode: Mode,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Normal,
    FreePassage,
    Lockdown,
}

/// An error that carries its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self { code: exit::FAILURE, error: e.into() }
    }
}

fn fail(code: u8, msg: impl Into<String>) -> Failure {
    Failure { code, error: anyhow::anyhow!(msg.into()) }
}

fn load_config(path: &std::path::Path) -> Result<Config, Failure> {
    config::load(&LoadOptions::file(path).with_process_env()).map_err(|e| {
        let text = match &e {
            ConfigError::Invalid(problems) => {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                format!("{}: {e}:\n{}", path.display(), list.join("\n"))
            }
            other => other.to_string(),
        };
        fail(exit::CONFIG, text)
    })
}

/// What the gateway decides from, as in its store: the accepted credentials and
/// revocations, the owner's site policy and the clock floor (the config's policy and
/// nothing else when there is no store yet).
struct Stored {
    built: Built,
    clock_floor: Option<Timestamp>,
}

fn stored_credentials(cfg: &Config) -> Result<Stored, Failure> {
    if !cfg.store.path.exists() {
        let built = Built {
            policy: cfg.policy.clone(),
            allowlist: Allowlist::default(),
            revocations: Revocations::default(),
            bookings: Bookings::default(),
        };
        return Ok(Stored { built, clock_floor: None });
    }
    let store = open_store(&cfg.store.path)?;
    let trust = Trust::of(cfg);
    let (_, _, built) = Registry::built_from_store(&store, &trust).map_err(|e| fail(exit::STORE, e.to_string()))?;
    let built = built.map_err(|p| fail(exit::DATA, p.join("; ")))?;
    let floor = store.clock_floor().map_err(|e| fail(exit::STORE, e.to_string()))?;
    Ok(Stored { built, clock_floor: Some(portvakt::core::clock::floor_at_least_release(floor)) })
}

fn explain_cmd(cfg: &Config, a: &ExplainArgs) -> Result<String, Failure> {
    // The same inputs the daemon decides from: with the store's revocations and floor.
    let (effective, allowlist, bookings, revocations, clock_floor) = match &a.allowlist {
        Some(p) => {
            let t = allowlist_file::load(cfg, &p.display().to_string()).map_err(|e| fail(exit::DATA, e.to_string()))?;
            (cfg.policy.clone(), t.allowlist, t.bookings, Revocations::default(), None)
        }
        None => {
            let s = stored_credentials(cfg)?;
            (s.built.policy, s.built.allowlist, s.built.bookings, s.built.revocations, s.clock_floor)
        }
    };
    let policy = &effective;
    let door_id: DoorId = a.door.parse().map_err(|e| fail(exit::USAGE, format!("--door: {e}")))?;
    let door = policy.door_index(&door_id).ok_or_else(|| {
        let known: Vec<&str> = policy.doors.iter().map(|d| d.id.as_str()).collect();
        fail(exit::USAGE, format!("--door: no door \"{door_id}\" (doors: {})", known.join(", ")))
    })?;
    let now = match &a.at {
        Some(s) => time_input::parse_time(s, &policy.tz).map_err(|e| fail(exit::USAGE, format!("--at: {e}")))?,
        None => Timestamp::now(),
    };
    let key = &cfg.credential_key;
    let token = if let Some(pin) = &a.pin {
        check_pin(pin).map_err(|e| fail(exit::USAGE, format!("--pin: {e}")))?;
        Token::Pin(key.pin(pin))
    } else if let Some(tag) = &a.tag {
        check_tag(tag).map_err(|e| fail(exit::USAGE, format!("--tag: {e}")))?;
        Token::Tag(key.tag(tag))
    } else {
        let s = a.phone.as_deref().unwrap_or_default();
        match PhoneKey::from_hex(s) {
            Some(k) => Token::Phone(k),
            None => {
                let id: CredentialId = s.parse().map_err(|e| fail(exit::USAGE, format!("--phone: {e}")))?;
                match allowlist.by_id(&id).map(|c| c.token) {
                    Some(t @ Token::Phone(_)) => t,
                    _ => {
                        return Err(fail(
                            exit::USAGE,
                            format!("--phone: no phone credential \"{id}\" in the allowlist"),
                        ));
                    }
                }
            }
        }
    };
    let mut state = AccessState {
        allowlist,
        bookings,
        revocations,
        clock_floor,
        clock: if a.untrusted_clock {
            ClockTrust::Untrusted(UntrustedReason::NotSynchronized)
        } else {
            ClockTrust::Trusted
        },
        ..AccessState::default()
    };
    state.set_mode(
        door,
        match a.mode {
            Mode::Normal => DoorMode::Normal,
            Mode::FreePassage => DoorMode::FreePassage,
            Mode::Lockdown => DoorMode::Lockdown,
        },
    );
    let decision = decide(policy, &state, &AccessRequest { door, token }, now);
    if a.json {
        let mut v = serde_json::to_value(&decision).context("encoding the decision")?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("at".into(), serde_json::Value::String(now.to_string()));
            obj.insert("explanation".into(), explain::reason_words(policy, &state.allowlist, &decision).into());
        }
        return Ok(format!("{}\n", serde_json::to_string_pretty(&v).context("encoding the decision")?));
    }
    Ok(explain::render(policy, &state.allowlist, &decision, &door_id, now))
}

/// The config's summary, then what the owner's signed policy in the store changes.
fn check_config_cmd(cfg: &Config) -> String {
    let mut out = summary::render(cfg);
    // A store that cannot be read is doctor's business; the config itself is fine.
    if let Ok(stored) = stored_credentials(cfg) {
        for line in in_force::owner_changes(&cfg.policy, &stored.built.policy) {
            let _ = writeln!(out, "in force   {line}");
        }
    }
    out
}

fn schedule_cmd(cfg: &Config, door: Option<&String>, week: Option<&String>) -> Result<String, Failure> {
    // What is in force: the config with the owner's signed policy from the store.
    let stored = stored_credentials(cfg)?;
    let policy = &stored.built.policy;
    let only = match door {
        Some(d) => Some(
            d.parse::<DoorId>()
                .ok()
                .and_then(|d| policy.door_index(&d))
                .ok_or_else(|| fail(exit::USAGE, format!("--door: no door \"{d}\"")))?,
        ),
        None => None,
    };
    let monday = match week {
        Some(w) => week_grid::parse_week(w).map_err(|e| fail(exit::USAGE, format!("--week: {e}")))?,
        None => {
            let today = Timestamp::now().to_zoned(policy.tz.clone()).date();
            let iso = today.iso_week_date();
            jiff::civil::ISOWeekDate::new(iso.year(), iso.week(), jiff::civil::Weekday::Monday)
                .map_or(today, jiff::civil::ISOWeekDate::date)
        }
    };
    let mut out = week_grid::render(policy, monday, only);
    for line in in_force::owner_changes(&cfg.policy, policy) {
        let _ = writeln!(out, "in force: {line}");
    }
    Ok(out)
}

/// The store file and the zone to show times in: from `--db` (UTC), or the config.
/// The store file: `--db`, or the configuration's.
fn store_path(cli: &Cli, db: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    match db {
        Some(p) => Ok(p.clone()),
        None => Ok(load_config(&config_path(cli))?.store.path.clone()),
    }
}

/// The store file and the zone its times are shown in.
fn store_target(cli: &Cli, db: Option<&PathBuf>) -> Result<(PathBuf, jiff::tz::TimeZone), Failure> {
    match db {
        // Another store file: still the site's time when the configuration is there,
        // so `--db` and `--config` show the same times (UTC otherwise, and the header says so).
        Some(p) => {
            let tz = load_config(&config_path(cli)).map_or(jiff::tz::TimeZone::UTC, |c| c.policy.tz.clone());
            Ok((p.clone(), tz))
        }
        None => {
            let cfg = load_config(&config_path(cli))?;
            Ok((cfg.store.path.clone(), cfg.policy.tz.clone()))
        }
    }
}

fn open_store(path: &std::path::Path) -> Result<Store, Failure> {
    Store::open_read_only(path).map_err(|e| {
        let code = if e.is_unusable() { exit::STORE } else { exit::FAILURE };
        fail(code, e.to_string())
    })
}

fn audit_cmd(cli: &Cli, cmd: &AuditCommand) -> Result<String, Failure> {
    match cmd {
        AuditCommand::Verify { db, against } => {
            let kept = against
                .as_ref()
                .map(|f| std::fs::read(f).map_err(|e| fail(exit::USAGE, format!("--against {}: {e}", f.display()))))
                .transpose()?;
            let path = store_path(cli, db.as_ref())?;
            let store = open_store(&path)?;
            let report = store.verify().map_err(|e| fail(exit::STORE, e.to_string()))?;
            let anchor = audit_anchor::check(&store, kept.as_deref()).map_err(|e| fail(exit::STORE, e.to_string()))?;
            let text = audit_view::render_verify(&path.display().to_string(), &report) + &audit_anchor::render(&anchor);
            if report.first_break.is_some() || anchor.broken() {
                Err(fail(exit::DATA, text.trim_end().to_owned()))
            } else {
                Ok(text)
            }
        }
        AuditCommand::List(a) => {
            let (path, tz) = store_target(cli, a.db.as_ref())?;
            let store = open_store(&path)?;
            let time = |s: &Option<String>, flag: &str| -> Result<Option<Timestamp>, Failure> {
                s.as_deref()
                    .map(|s| time_input::parse_time(s, &tz).map_err(|e| fail(exit::USAGE, format!("--{flag}: {e}"))))
                    .transpose()
            };
            let filter = AuditFilter {
                door: a.door.clone(),
                holder: a.holder.clone(),
                since: time(&a.since, "since")?,
                until: time(&a.until, "until")?,
                limit: a.limit,
            };
            let records = store.query(&filter).map_err(|e| fail(exit::STORE, e.to_string()))?;
            Ok(if a.json { audit_view::render_json(&records) } else { audit_view::render_list(&records, &tz) })
        }
    }
}

fn pick_bus(
    cfg: &mut Config,
    name: Option<&String>,
    tcp: Option<&String>,
) -> Result<portvakt::config::BusConfig, Failure> {
    let bus = match name {
        Some(n) => cfg.buses.iter_mut().find(|b| &b.name == n),
        None => cfg.buses.first_mut(),
    }
    .ok_or_else(|| fail(exit::USAGE, format!("--bus: no bus \"{}\" in the config", name.map_or("", String::as_str))))?;
    if let Some(addr) = tcp {
        bus.link = portvakt::config::BusLink::Tcp { address: addr.clone() };
    }
    Ok(bus.clone())
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(exit::FAILURE, e.to_string()))
}

fn tool_error(e: installer::ToolError) -> Failure {
    let code = match &e {
        installer::ToolError::NotFound(_) => exit::USAGE,
        installer::ToolError::Link(_) => exit::FAILURE,
    };
    Failure { code, error: e.into() }
}

fn parse_units(s: &str) -> Result<std::ops::RangeInclusive<u8>, Failure> {
    let bad = || fail(exit::USAGE, format!("--units: \"{s}\" is not a range like 1-247"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u8, u8) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a == 0 || b > 247 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

fn scan_cmd(cli: &Cli, bus: Option<&String>, units: &str, tcp: Option<&String>) -> Result<String, Failure> {
    let mut cfg = load_config(&config_path(cli))?;
    let bus = pick_bus(&mut cfg, bus, tcp)?;
    let units = parse_units(units)?;
    let last = *units.end();
    let answers = runtime()?
        .block_on(installer::scan(&bus, units.clone(), |u| eprint!("\rscanning unit {u:>3} of {last}")))
        .map_err(tool_error)?;
    eprintln!();
    Ok(installer::render_scan(&bus, &answers, &units))
}

/// Sends a request to the running daemon; `Ok(None)` when no daemon runs.
fn ask_daemon(cfg: &Config, req: &Request) -> Result<Option<serde_json::Value>, Failure> {
    ask_at(&cfg.daemon.control_socket, req)
}

/// The config, or — when the file on disk has problems — where the running daemon
/// listens (it runs on the configuration it loaded), with a note saying so.
fn config_or_socket(cli: &Cli) -> Result<Result<Config, std::path::PathBuf>, Failure> {
    let path = config_path(cli);
    match load_config(&path) {
        Ok(cfg) => Ok(Ok(cfg)),
        Err(f) if f.code == exit::CONFIG => {
            eprintln!(
                "portvakt: note: {} has problems (run check-config); asking the running daemon, which uses the \
                 configuration it loaded",
                path.display()
            );
            Ok(Err(config::control_socket_of(&LoadOptions::file(&path).with_process_env())))
        }
        Err(f) => Err(f),
    }
}

fn ask_at(socket: &std::path::Path, req: &Request) -> Result<Option<serde_json::Value>, Failure> {
    match runtime()?.block_on(client::request(socket, req)) {
        Ok(v) => Ok(Some(v)),
        Err(ClientError::NotRunning(_)) => Ok(None),
        Err(e @ ClientError::Refused(_)) => Err(fail(exit::USAGE, e.to_string())),
        Err(e) => Err(fail(exit::FAILURE, e.to_string())),
    }
}

fn daemon_required(cfg: &Config, req: &Request) -> Result<serde_json::Value, Failure> {
    ask_daemon(cfg, req)?.ok_or_else(|| {
        let e = ClientError::NotRunning(cfg.daemon.control_socket.display().to_string());
        fail(exit::UNAVAILABLE, e.to_string())
    })
}

fn status_cmd(cli: &Cli, json: bool) -> Result<String, Failure> {
    let v = match config_or_socket(cli)? {
        Ok(cfg) => daemon_required(&cfg, &Request::Status)?,
        Err(socket) => ask_at(&socket, &Request::Status)?.ok_or_else(|| {
            let e = ClientError::NotRunning(socket.display().to_string());
            fail(exit::UNAVAILABLE, e.to_string())
        })?,
    };
    let status = v.get("status").cloned().unwrap_or_default();
    if json {
        return Ok(format!("{status:#}\n"));
    }
    Ok(v.get("text").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned())
}

fn doctor_cmd(cli: &Cli, json: bool, no_record: bool) -> Result<String, Failure> {
    let path = config_path(cli);
    let loaded = config::load(&LoadOptions::file(&path).with_process_env());
    let dir = loaded.as_ref().ok().map(doctor::state_dir);
    let report = runtime()?.block_on(doctor::run(&path, loaded));
    let mut out = if json { format!("{:#}\n", serde_json::json!(report)) } else { report.render() };
    if let (Some(dir), false) = (dir, no_record) {
        match doctor::save(&report, &dir) {
            Ok(p) if !json => {
                let _ = writeln!(out, "commissioning record: {}", p.display());
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

fn sim_cmd(cli: &Cli, door: &str, act: &str, value: Option<&String>) -> Result<String, Failure> {
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
    daemon_required(&cfg, &Request::Sim { door: door.to_owned(), act })?;
    Ok(String::new())
}

fn pulse_cmd(cli: &Cli, door: &str, tcp: Option<&String>) -> Result<String, Failure> {
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
async fn until(seconds: Option<u64>) {
    match seconds {
        Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn watch_cmd(cli: &Cli, bus: Option<&String>, tcp: Option<&String>, seconds: Option<u64>) -> Result<String, Failure> {
    let mut cfg = load_config(&config_path(cli))?;
    let tz = cfg.policy.tz.clone();
    let print = |line: &str| {
        let now = Timestamp::now().to_zoned(tz.clone()).strftime("%H:%M:%S");
        println!("{now}  {line}");
    };
    let rt = runtime()?;
    if tcp.is_none() && bus.is_none() {
        match rt.block_on(client::watch(&cfg.daemon.control_socket, print, until(seconds))) {
            Ok(()) => return Ok(String::new()),
            Err(ClientError::NotRunning(_)) => {} // no daemon: watch the first bus directly
            Err(e) => return Err(fail(exit::FAILURE, e.to_string())),
        }
    }
    let bus = pick_bus(&mut cfg, bus, tcp)?;
    let show = |e: &portvakt::modbus::bus::BusEvent| print(&installer::describe_event(e));
    rt.block_on(installer::watch(&bus, show, until(seconds))).map_err(tool_error)?;
    Ok(String::new())
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH))
}

fn run(cli: &Cli) -> Result<String, Failure> {
    match &cli.command {
        Command::Demo { allowlist, keep_running, mqtt } => {
            let path = cli.config.clone().unwrap_or_else(|| PathBuf::from("config/portvakt.toml"));
            let cfg = load_config(&path)?;
            portvakt::demo::run(&cfg, allowlist, *keep_running, mqtt.as_deref()).map_err(|e| {
                let code = match e {
                    portvakt::demo::DemoError::Allowlist(_) => exit::DATA,
                    _ => exit::FAILURE,
                };
                fail(code, e.to_string())
            })
        }
        Command::Run { simulate } => {
            let path = config_path(cli);
            let cfg = load_config(&path)?;
            let level = std::env::var("PORTVAKT_LOG").ok().and_then(|l| l.parse().ok()).unwrap_or(cfg.daemon.log_level);
            logging::init(level, std::env::var("JOURNAL_STREAM").ok().as_deref());
            portvakt::daemon::run_process(LoadOptions::file(path).with_process_env(), *simulate)
                .map(|()| String::new())
                .map_err(|e| fail(e.exit_code(), e.to_string()))
        }
        Command::Status { json } => status_cmd(cli, *json),
        Command::Doctor { json, no_record } => doctor_cmd(cli, *json, *no_record),
        Command::Sim { door, act, value } => sim_cmd(cli, door, act, value.as_ref()),
        Command::CheckConfig => Ok(check_config_cmd(&load_config(&config_path(cli))?)),
        Command::Explain(a) => explain_cmd(&load_config(&config_path(cli))?, a),
        Command::Schedule { door, week } => {
            schedule_cmd(&load_config(&config_path(cli))?, door.as_ref(), week.as_ref())
        }
        Command::Audit(cmd) => audit_cmd(cli, cmd),
        Command::Scan { bus, units, tcp } => scan_cmd(cli, bus.as_ref(), units, tcp.as_ref()),
        Command::Pulse { door, tcp } => pulse_cmd(cli, door, tcp.as_ref()),
        Command::Watch { bus, tcp, seconds } => watch_cmd(cli, bus.as_ref(), tcp.as_ref(), *seconds),
        Command::Intake => intake_cmd(&load_config(&config_path(cli))?),
    }
}

/// `portvakt intake`: through the running daemon when there is one (it is the store's one
/// writer), otherwise directly; exit 65 when a document was refused.
fn intake_cmd(cfg: &Config) -> Result<String, Failure> {
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

fn main() -> ExitCode {
    // A command-line mistake exits 64 (EX_USAGE), as documented; --help and --version 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    match run(&cli) {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(f) => {
            eprint!("portvakt: {}", f.error);
            for cause in f.error.chain().skip(1) {
                eprint!(": {cause}");
            }
            eprintln!();
            ExitCode::from(f.code)
        }
    }
}
