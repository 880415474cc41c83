//! The fleet campaign's gateways (`scripts/fleet.sh`; figures in `docs/performance.md`):
//! many sites in one process, each connected to one of the cluster's MQTT listeners with
//! TLS. `--mode real` runs the gateway's own store and uplink per site; `--mode generated`
//! light sites built on the gateway's chain and payload code (`generated.rs`). Every
//! 500 ms it writes `DIR/status-<mode>.json` — each site's newest record (`head`) and how
//! far Central has acknowledged it (`through`) — and, in generated mode, each record's
//! acknowledgement latency at the end. It stops producing when `DIR/stop` exists, and
//! exits on SIGTERM after writing its last status.
//!
//!   `cargo run --release --example fleet -- --mode generated --first 101 --count 900 …`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc, missing_docs)]

mod generated;
mod real;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// `real` (the gateway's store and uplink) or `generated`.
    #[arg(long)]
    mode: String,
    /// The first site's number (sites are `fleet-0001`…).
    #[arg(long, default_value_t = 1)]
    first: usize,
    /// How many sites.
    #[arg(long)]
    count: usize,
    /// The cluster's MQTT listeners, `mqtts://localhost:PORT`, separated by `,` (site i
    /// uses listener i mod their number).
    #[arg(long)]
    brokers: String,
    /// CA, certificate and key (PEM) of the fleet's client certificate.
    #[arg(long)]
    ca: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// The collectors' public key (64 hex digits).
    #[arg(long)]
    collector_key: String,
    /// Stores, status and the stop file.
    #[arg(long)]
    dir: PathBuf,
    /// Each site's time between records.
    #[arg(long, default_value_t = 5000)]
    interval_ms: u64,
    /// Generated mode: the first seq to publish (records before it are taken as stored).
    #[arg(long, default_value_t = 1)]
    start: u64,
    /// Generated mode: publish this many records per site as fast as PUBACKs come, then exit.
    #[arg(long)]
    burst: Option<u64>,
}

/// Where a site connects.
#[derive(Clone)]
pub struct Link {
    pub broker: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub collector_key: [u8; 32],
}

/// The driver's counters and each site's (head, through).
#[derive(Default)]
pub struct Counts {
    pub produced: AtomicU64,
    pub acked: AtomicU64,
    sites: std::sync::Mutex<BTreeMap<String, (u64, u64)>>,
}

impl Counts {
    pub fn head(&self, site: &str, head: u64) {
        self.sites.lock().unwrap().entry(site.to_owned()).or_default().0 = head;
    }
    pub fn through(&self, site: &str, through: u64) {
        self.sites.lock().unwrap().entry(site.to_owned()).or_default().1 = through;
    }
}

/// MQTT options for a site's client (TLS when the link has it).
pub fn options(link: &Link, client_id: &str) -> MqttOptions {
    let (_, host, port) = portvakt_wire::broker::parse_broker(&link.broker).expect("broker URL");
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(20));
    o.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(tls) = &link.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone())));
    }
    o
}

fn write_status(args: &Args, counts: &Counts, latencies: Option<&[(u64, u32)]>) {
    let sites: serde_json::Map<String, serde_json::Value> = counts
        .sites
        .lock()
        .unwrap()
        .iter()
        .map(|(s, (h, t))| (s.clone(), serde_json::json!({"head": h, "through": t})))
        .collect();
    let mut v = serde_json::json!({
        "produced": counts.produced.load(Ordering::Relaxed),
        "acked": counts.acked.load(Ordering::Relaxed),
        "sites": sites,
    });
    if let Some(l) = latencies {
        // Each acknowledged record: when it was first published (Unix ms) and how long
        // until an acknowledgement covered it (ms); the campaign takes the percentiles.
        v["latencies"] = serde_json::json!(l);
    }
    let path = args.dir.join(format!("status-{}.json", args.mode));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, v.to_string()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run(args));
}

#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
async fn run(args: Args) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = portvakt_wire::tls::tls_client(
        &std::fs::read(&args.ca).unwrap(),
        &std::fs::read(&args.cert).unwrap(),
        &std::fs::read(&args.key).unwrap(),
    )
    .expect("TLS client settings");
    let tls = Some(Arc::new(tls));
    let collector_key = portvakt_wire::hex::decode32(&args.collector_key).expect("--collector-key: 64 hex digits");
    let brokers: Vec<String> = args.brokers.split(',').map(str::to_owned).collect();
    let sites: Vec<(String, Link)> = (args.first..args.first + args.count)
        .map(|n| {
            let link = Link { broker: brokers[n % brokers.len()].clone(), tls: tls.clone(), collector_key };
            (format!("fleet-{n:04}"), link)
        })
        .collect();
    std::fs::create_dir_all(&args.dir).unwrap();

    if let Some(n) = args.burst {
        let connected = Arc::new(AtomicU64::new(0));
        let (go, wait) = watch::channel(false);
        let mut tasks = Vec::new();
        for (site, link) in sites.clone() {
            tasks.push(tokio::spawn(generated::burst(link, site, n, connected.clone(), wait.clone())));
        }
        while connected.load(Ordering::Relaxed) < sites.len() as u64 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let started = Instant::now();
        go.send(true).unwrap();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "burst: {total} publishes from {} sites acknowledged (PUBACK) in {secs:.2} s: {:.0} msgs/s",
            sites.len(),
            total as f64 / secs
        );
        return;
    }

    let counts = Arc::new(Counts::default());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop) = watch::channel(false);
    let cancel = CancellationToken::new();
    let interval = Duration::from_millis(args.interval_ms);
    let base = if args.mode == "real" {
        Some(Arc::new(
            portvakt::config::load(&portvakt::config::LoadOptions::file("config/portvakt.toml")).expect("config"),
        ))
    } else {
        None
    };
    for (i, (site, link)) in sites.into_iter().enumerate() {
        let (counts, stop) = (counts.clone(), stop.clone());
        // Spread the sites' first records over one interval, as real doors would be.
        let offset = interval.mul_f64(i as f64 / args.count as f64);
        match &base {
            Some(base) => {
                let (base, dir, cancel) = (base.clone(), args.dir.clone(), cancel.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(offset).await;
                    if let Err(e) = real::site(base, link, site, &dir, interval, counts, stop, cancel).await {
                        eprintln!("fleet: {e}");
                    }
                });
            }
            None => {
                let (latencies, start) = (latencies.clone(), args.start);
                tokio::spawn(async move {
                    tokio::time::sleep(offset).await;
                    generated::site(link, site, start, interval, counts, latencies, stop).await;
                });
            }
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let stop_file = args.dir.join("stop");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tick.tick() => {
                if stop_file.exists() && !*stop_tx.borrow() {
                    let _ = stop_tx.send(true);
                }
                write_status(&args, &counts, None);
            }
        }
    }
    cancel.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let l = latencies.lock().await;
    write_status(&args, &counts, (args.mode == "generated").then_some(&l[..]));
}
