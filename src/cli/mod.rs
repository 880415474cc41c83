//! What every command shares: a failure with its exit code, loading the configuration,
//! talking to the running daemon, picking a bus and opening the store read-only.

pub(crate) mod args;
pub(crate) mod audit;
pub(crate) mod on_site;
pub(crate) mod policy;

use std::path::PathBuf;

use portvakt::config::{self, Config, ConfigError, LoadOptions};
use portvakt::daemon::client::{self, ClientError};
use portvakt::daemon::control::Request;
use portvakt::exit;
use portvakt::store::Store;
use portvakt::tools::installer;

use args::Cli;

/// An error that carries its exit code.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self { code: exit::FAILURE, error: e.into() }
    }
}

pub(crate) fn fail(code: u8, msg: impl Into<String>) -> Failure {
    Failure { code, error: anyhow::anyhow!(msg.into()) }
}

pub(crate) fn load_config(path: &std::path::Path) -> Result<Config, Failure> {
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

pub(crate) fn config_path(cli: &Cli) -> PathBuf {
    cli.config.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(exit::FAILURE, e.to_string()))
}

pub(crate) fn tool_error(e: installer::ToolError) -> Failure {
    let code = match &e {
        installer::ToolError::NotFound(_) => exit::USAGE,
        installer::ToolError::Link(_) => exit::FAILURE,
    };
    Failure { code, error: e.into() }
}

/// Sends a request to the running daemon; `Ok(None)` when no daemon runs.
pub(crate) fn ask_daemon(cfg: &Config, req: &Request) -> Result<Option<serde_json::Value>, Failure> {
    ask_at(&cfg.daemon.control_socket, req)
}

/// The config, or — when the file on disk has problems — where the running daemon
/// listens (it runs on the configuration it loaded), with a note saying so.
pub(crate) fn config_or_socket(cli: &Cli) -> Result<Result<Config, std::path::PathBuf>, Failure> {
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

pub(crate) fn ask_at(socket: &std::path::Path, req: &Request) -> Result<Option<serde_json::Value>, Failure> {
    match runtime()?.block_on(client::request(socket, req)) {
        Ok(v) => Ok(Some(v)),
        Err(ClientError::NotRunning(_)) => Ok(None),
        Err(e @ ClientError::Refused(_)) => Err(fail(exit::USAGE, e.to_string())),
        Err(e) => Err(fail(exit::FAILURE, e.to_string())),
    }
}

pub(crate) fn daemon_required(cfg: &Config, req: &Request) -> Result<serde_json::Value, Failure> {
    ask_daemon(cfg, req)?.ok_or_else(|| {
        let e = ClientError::NotRunning(cfg.daemon.control_socket.display().to_string());
        fail(exit::UNAVAILABLE, e.to_string())
    })
}

pub(crate) fn pick_bus(
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

pub(crate) fn open_store(path: &std::path::Path) -> Result<Store, Failure> {
    Store::open_read_only(path).map_err(|e| {
        let code = if e.is_unusable() { exit::STORE } else { exit::FAILURE };
        fail(code, e.to_string())
    })
}

/// The store file: `--db`, or the configuration's.
pub(crate) fn store_path(cli: &Cli, db: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    match db {
        Some(p) => Ok(p.clone()),
        None => Ok(load_config(&config_path(cli))?.store.path.clone()),
    }
}

/// The store file and the zone its times are shown in.
pub(crate) fn store_target(cli: &Cli, db: Option<&PathBuf>) -> Result<StoreTarget, Failure> {
    match db {
        // Another store file: still the site's time when the configuration is there,
        // so `--db` and `--config` show the same times (UTC otherwise, and the header says so).
        Some(p) => {
            let cfg = load_config(&config_path(cli)).ok();
            let tz = cfg.as_ref().map_or(jiff::tz::TimeZone::UTC, |c| c.policy.tz.clone());
            // Without a configuration to ask, an unconfirmed record may be on its way.
            let uplink = cfg.is_none_or(|c| c.uplink.is_some());
            Ok(StoreTarget { path: p.clone(), tz, uplink })
        }
        None => {
            let cfg = load_config(&config_path(cli))?;
            Ok(StoreTarget { path: cfg.store.path.clone(), tz: cfg.policy.tz.clone(), uplink: cfg.uplink.is_some() })
        }
    }
}

/// The store a reading command opens, the site's time zone, and whether the site has an
/// uplink (without one, records are kept locally and never "waiting").
pub(crate) struct StoreTarget {
    pub(crate) path: PathBuf,
    pub(crate) tz: jiff::tz::TimeZone,
    pub(crate) uplink: bool,
}
