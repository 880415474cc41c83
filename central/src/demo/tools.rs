//! What the demo runs and how: finding the programs it needs (the gateway's binaries,
//! Debian's `nats-server` and PostgreSQL), running one to completion with its output,
//! free loopback ports, and waiting for a port to answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use super::DemoError;

/// The programs the demo starts.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The gateway daemon (`portvakt`).
    pub portvakt: PathBuf,
    /// The authority's tool (`portvakt-admin`).
    pub admin: PathBuf,
    /// Debian's `nats-server`.
    pub nats_server: PathBuf,
    /// PostgreSQL's `bin/` (`initdb`, `pg_ctl`).
    pub pg_bin: PathBuf,
    /// Whether we are root: PostgreSQL then runs as the `postgres` user (initdb refuses root).
    pub as_root: bool,
}

const APT: &str = "apt install postgresql nats-server";

impl Tools {
    /// Finds every program, or says which is missing and how to get it.
    pub fn find() -> Result<Self, DemoError> {
        let beside = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
        let gateway = |name: &str| {
            beside.as_ref().map(|d| d.join(name)).filter(|p| p.is_file()).or_else(|| on_path(name)).ok_or_else(|| {
                DemoError::Missing {
                    what: name.to_owned(),
                    hint: "build the gateway too: `cargo build -p portvakt` (the demo runs the real gateway)".into(),
                }
            })
        };
        let portvakt = gateway("portvakt")?;
        let admin = gateway("portvakt-admin")?;
        let nats_server = on_path("nats-server")
            .or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
            .ok_or_else(|| DemoError::Missing { what: "nats-server".into(), hint: APT.into() })?;
        let pg_bin = newest_postgres().ok_or_else(|| DemoError::Missing {
            what: "PostgreSQL (/usr/lib/postgresql/*/bin/initdb)".into(),
            hint: APT.into(),
        })?;
        Ok(Self { portvakt, admin, nats_server, pg_bin, as_root: running_as_root() })
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Debian's newest PostgreSQL's `bin/`, if one is installed.
pub fn newest_postgres() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A command with none of the caller's `PORTVAKT__…` settings (they would override the
/// demo's own for every gateway), its output captured.
pub fn command(program: &Path) -> Command {
    let mut c = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PORTVAKT__")) {
            c.env_remove(name);
        }
    }
    c.kill_on_drop(true);
    c
}

/// Runs `c` to its end; its standard output, or an error naming `what` with what it said.
pub async fn output(what: &str, c: &mut Command) -> Result<String, DemoError> {
    let out = c.stdin(std::process::Stdio::null()).output().await.map_err(|e| DemoError::io(what, e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Err(DemoError::step(what, format!("{} — {}", out.status, said.trim())))
    }
}

/// The lowest port the demo picks.
const FLOOR: u16 = 10_000;

/// A loopback port nothing listens on now, below the kernel's range for the local ports of
/// outgoing connections (`ip_local_port_range`): a port from that range, as `bind(0)` gives,
/// can be taken by any connection made before the program it was picked for binds it (a
/// NATS node's routes dial the others while they start: "address already in use" once in a
/// while). Never the same port twice in one process.
pub fn free_port() -> Result<u16, DemoError> {
    use std::hash::{BuildHasher as _, Hasher as _};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if low > FLOOR + 1_000 {
        let mut given = GIVEN.lock().map_err(|_| DemoError::step("a free loopback port", "a lock was poisoned"))?;
        for _ in 0..500 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(u64::from(std::process::id()));
            let port = FLOOR + u16::try_from(h.finish() % u64::from(low - FLOOR)).unwrap_or(0);
            if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.push(port);
                return Ok(port);
            }
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| DemoError::io("a free loopback port", e))?;
    l.local_addr().map(|a| a.port()).map_err(|e| DemoError::io("a free loopback port", e))
}

/// Waits until something accepts connections on the loopback `port` (at most `limit`).
pub async fn wait_port(what: &str, port: u16, limit: Duration) -> Result<(), DemoError> {
    let until = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < until {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(DemoError::step(what, format!("nothing answered on 127.0.0.1:{port} within {}s", limit.as_secs())))
}

/// The last lines of a log file, for an error message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
