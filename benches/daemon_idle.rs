//! CPU and memory of the daemon doing its steady work: `portvakt run` (the release
//! binary, as a separate process) polls three devices of a simulated building over Modbus
//! TCP on loopback — a keypad panel and an input module at 20 Hz, a relay board at 1 Hz —
//! for a minute. The building runs in this process, so its cost is not counted.
//! CPU is the daemon's utime + stime from /proc over the minute after a 5 s warm-up;
//! memory is its `VmRSS` at the end and `VmHWM` (peak).
//!   `cargo bench --bench daemon_idle [-- SECONDS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portvakt::config::{BusConfig, BusLink, DeviceConfig, Profile};
use portvakt::modbus::sim::{SimBuilding, serve};

fn config(address: &str) -> String {
    format!(
        r#"[site]
id = "bench-site"
[credentials]
hash_key_file = "key"
[daemon]
log_level = "warn"
[[buses]]
name = "rs485"
kind = "tcp"
address = "{address}"
poll_interval = "50ms"
devices = [
  {{ unit = 1, profile = "portvakt-keypad" }},
  {{ unit = 2, profile = "relay-coils", channels = 4 }},
  {{ unit = 3, profile = "discrete-inputs", channels = 8 }},
]
[[doors]]
id = "entrance"
kind = "entrance"
relay = {{ bus = "rs485", unit = 2, channel = 1 }}
contact = {{ bus = "rs485", unit = 3, channel = 1 }}
exit_button = {{ bus = "rs485", unit = 3, channel = 2 }}
keypad = {{ bus = "rs485", unit = 1 }}
access = [{{ role = "resident" }}]
"#
    )
}

fn ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap() // utime, stime (fields 14, 15)
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let seconds: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let bus = BusConfig {
        name: "rs485".into(),
        link: BusLink::Sim,
        timeout: jiff::SignedDuration::from_millis(500),
        poll_interval: jiff::SignedDuration::from_millis(50),
        max_entry_age: jiff::SignedDuration::from_secs(10),
        devices: [(1, Profile::PortvaktKeypad, 0), (2, Profile::RelayCoils, 4), (3, Profile::DiscreteInputs, 8)]
            .into_iter()
            .map(|(unit, profile, channels)| DeviceConfig { unit, name: String::new(), profile, channels })
            .collect(),
    };
    let sim = SimBuilding::for_bus(&bus);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    rt.spawn(serve(sim.clone(), listener));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("portvakt.toml"), config(&address)).unwrap();
    std::fs::write(dir.path().join("key"), "ab".repeat(32)).unwrap();
    std::fs::set_permissions(dir.path().join("key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = |rel: &str| dir.path().join(rel).display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .args(["run", "--config", &p("portvakt.toml")])
        .env("PORTVAKT__STORE__PATH", p("portvakt.db"))
        .env("PORTVAKT__CREDENTIALS__INBOX", p("inbox"))
        .env("PORTVAKT__DAEMON__CONTROL_SOCKET", p("control.sock"))
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(5));
    let requests0 = sim.requests();
    let (t0, c0) = (Instant::now(), ticks(pid));
    std::thread::sleep(Duration::from_secs(seconds));
    let (elapsed, c1) = (t0.elapsed(), ticks(pid));
    let requests = sim.requests() - requests0;
    let (rss, hwm) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"));
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let exit = child.wait().unwrap();

    let hz = 100.0; // USER_HZ on Linux
    let cpu = (c1 - c0) as f64 / hz / elapsed.as_secs_f64() * 100.0;
    let rate = requests as f64 / elapsed.as_secs_f64();
    println!("daemon_idle: {seconds} s, keypad + inputs at 20 Hz, relay board at 1 Hz");
    println!("  Modbus requests served by the building: {requests} ({rate:.1}/s)");
    println!("  CPU: {:.3} % of one core ({} ticks of 10 ms)", cpu, c1 - c0);
    println!("  memory: VmRSS {:.1} MiB at the end, VmHWM {:.1} MiB peak", rss as f64 / 1024.0, hwm as f64 / 1024.0);
    println!("  the daemon stopped with {exit}");
}
