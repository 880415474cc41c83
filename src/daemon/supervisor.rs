//! The supervisor: `portvakt run`. It opens the store, restores the registry, lockouts,
//! door modes and clock floor from it, starts the doors (buses and gateway), then the
//! access actor, the clock watcher, the control socket and the watchdog; says `READY=1`
//! once the gateway has locked every strike and serves; and owns cancellation.
//!
//! - A task that fails ends the daemon with an error (systemd restarts it); reconnects
//!   inside the bus actors are state changes, not failures.
//! - Reload (SIGHUP): the new configuration is loaded, validated and checked against the
//!   stored bundles; if anything is wrong it is refused — every problem logged and
//!   audited — and the old one keeps running. Otherwise credentials and policy are
//!   swapped in place, or the doors restart when buses or wiring changed.
//! - Stop (SIGTERM/SIGINT): inputs stop first (control socket, intake, clock, watchdog),
//!   then the doors (strikes locked, lockouts saved), then the store is flushed and
//!   closed; all within [`STOP_WITHIN`], below the unit's `TimeoutStopSec=`. The uplink
//!   stops last: a short drain of the outbox, then the retained `offline`.
//! - The uplink may ask for a reload (`cmd/reload`); it gets the outcome back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::checkpoints::{self, Checkpointer};
use super::clock_watch::{self, TrustTracker};
use super::control;
use super::doors::{Doors, DoorsError, DoorsView};
use super::notify::Notifier;
use super::restore;
use super::retention;
use super::running::Running;
use super::watchdog::{self, Probes, probe};
use crate::access;
use crate::config::{BusLink, Config, ConfigError, LoadOptions};
use crate::credentials::registry::Registry;
use crate::credentials::verify::Trust;
use crate::gateway::clock::Clock;
use crate::gateway::handle::NewAccess;
use crate::site::local_socket::{self, ControlError};
use crate::site::reach::Reach;
use crate::store::{EventKind, NewEvent, Store, StoreError};
use crate::uplink::inbound::ReloadRequest;

/// The whole of an orderly stop takes at most this long (the unit allows 20 s).
pub const STOP_WITHIN: Duration = Duration::from_secs(10);

/// What the process tells the daemon (SIGHUP, SIGTERM/SIGINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Reload the configuration.
    Reload,
    /// Stop in an orderly way.
    Stop,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the configuration is (read at start and at every reload).
    pub load: LoadOptions,
    /// Replace every bus by the simulated building (no hardware needed).
    pub simulate: bool,
    /// Where systemd notifications go.
    pub notifier: Notifier,
    /// Where the daemon reads the time: the system's ([`crate::gateway::clock::SystemClock`]); tests pass a
    /// [`crate::gateway::clock::ManualClock`] to move pulses, nonces and validity on
    /// without sleeping.
    pub clock: Arc<dyn Clock>,
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid (exit 78: systemd does not restart).
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The store cannot be used.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The control socket cannot be set up.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The doors could not start.
    #[error(transparent)]
    Doors(#[from] DoorsError),
    /// A task failed while running.
    #[error("{task} failed: {why}")]
    Failed {
        /// Which task.
        task: &'static str,
        /// Why.
        why: String,
    },
}

impl DaemonError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => crate::exit::CONFIG,
            Self::Store(e) if e.is_unusable() => crate::exit::STORE,
            _ => crate::exit::FAILURE,
        }
    }
}

pub(super) fn load(opts: &RunOptions) -> Result<Config, ConfigError> {
    let mut cfg = crate::config::load(&opts.load)?;
    if opts.simulate {
        for b in &mut cfg.buses {
            b.link = BusLink::Sim;
        }
    }
    Ok(cfg)
}

pub(super) fn event(kind: EventKind, trusted: bool, detail: &serde_json::Value) -> NewEvent {
    NewEvent::system(kind, Timestamp::now(), trusted, None, detail)
}

/// This round's liveness probes: the store, the access actor, and the current gateway
/// and buses (none while the doors restart).
fn probes(
    store: &crate::store::Handle,
    access: &access::Handle,
    uplink: &crate::uplink::Handle,
    doors: &watch::Receiver<Option<Arc<DoorsView>>>,
) -> Probes {
    let mut probes: Probes = vec![
        ("the store".into(), probe(store.clone(), |s| async move { s.call(|_| Ok(())).await.is_ok() })),
        ("the access actor".into(), probe(access.clone(), |a| async move { a.ping().await })),
        ("the uplink".into(), probe(uplink.clone(), |u| async move { u.ping().await })),
    ];
    let view = doors.borrow().clone();
    if let Some(view) = view {
        probes.push(("the gateway".into(), probe(view.gateway.clone(), |g| async move { g.ping().await })));
        for (name, bus) in &view.buses {
            probes.push((format!("bus \"{name}\""), probe(bus.clone(), |b| async move { b.health().await.is_some() })));
        }
    }
    probes
}

/// The tasks the supervisor started besides the doors, and what it listens to.
struct Tasks {
    inputs: CancellationToken,
    tracker: TaskTracker,
    failed: mpsc::Receiver<(&'static str, String)>,
    updates: access::latest::Receiver<NewAccess>,
    reloads: mpsc::Receiver<ReloadRequest>,
    uplink_stop: CancellationToken,
    uplink_task: tokio::task::JoinHandle<()>,
    store_thread: std::thread::JoinHandle<()>,
}

/// What the store gave back at start.
struct Opened {
    store: crate::store::Handle,
    store_thread: std::thread::JoinHandle<()>,
    registry: Registry,
    built: crate::credentials::registry::Built,
    floor: Option<jiff::Timestamp>,
    trust0: crate::core::clock::ClockState,
    checkpointer: Option<Checkpointer>,
}

/// Opens the store, restores what it keeps, records the start (and every stored
/// document dropped), and starts the checkpointer.
async fn open_and_restore(cfg: &Config) -> Result<Opened, DaemonError> {
    let store = Store::open(&cfg.store)?;
    let (registry, dropped, built) = Registry::built_from_store(&store, &Trust::of(cfg))?;
    let floor = Some(crate::core::clock::floor_at_least_release(store.clock_floor()?));
    let (store, store_thread) = crate::store::actor::spawn(store)?;
    let built = restore::usable_or_empty(cfg, built);
    let trust0 = clock_watch::initial(&cfg.daemon.synchronized_flag, floor);
    let files: Vec<String> = cfg.files.iter().map(|f| f.display().to_string()).collect();
    let detail = serde_json::json!({ "version": env!("CARGO_PKG_VERSION"), "files": files });
    store.append(event(EventKind::SystemStart, trust0.is_trusted(), &detail)).await?;
    for d in &dropped {
        // Damaged on the card, from an authority no longer configured, or beyond the
        // rights the config now gives: not used, and said so in the audit log.
        log::warn!("a stored document no longer verifies and is not used: {d}");
        let detail = serde_json::json!({ "source": "store", "reason": d.code(), "message": d.to_string() });
        store.append(event(EventKind::CredentialsRefused, trust0.is_trusted(), &detail)).await?;
    }
    let checkpointer = Checkpointer::start(cfg, &store, trust0.is_trusted()).await;
    Ok(Opened { store, store_thread, registry, built, floor, trust0, checkpointer })
}

/// Opens the store, restores state, starts everything; returns once ready to serve.
async fn start(opts: RunOptions) -> Result<(Running, Tasks), DaemonError> {
    let started = Instant::now();
    let cfg = Arc::new(load(&opts)?);
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    let Opened { store, store_thread, registry, built, floor, trust0, checkpointer } = open_and_restore(&cfg).await?;
    let (trust_tx, trust) = watch::channel(trust0);

    let clock = opts.clock.clone();
    let inputs = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (failed_tx, failed) = mpsc::channel::<(&'static str, String)>(8);
    let access_start =
        access::Start { cfg: cfg.clone(), registry, store: store.clone(), clock: clock.clone(), trust: trust.clone() };
    let (access_handle, updates, access_task) = access::spawn(access_start, inputs.clone());
    let (doors_tx, doors_rx) = watch::channel(None);
    let (uplink_status_tx, uplink_status) = watch::channel(None);
    let (reload_tx, reloads) = mpsc::channel(2);
    let reach = Reach {
        site: cfg.site.id.to_string(),
        doors: doors_rx.clone(),
        store: store.clone(),
        access: access_handle.clone(),
        started,
        trust: trust.clone(),
        uplink: uplink_status,
        ble: crate::site::reach::ble_words(cfg.ble.as_ref()),
        device_key: checkpointer.as_ref().map(Checkpointer::public_key),
    };
    let uplink_stop = CancellationToken::new();
    let uplink_start =
        crate::uplink::Start { cfg: cfg.clone(), reach: reach.clone(), reload: reload_tx, status: uplink_status_tx };
    let (uplink, uplink_run) = crate::uplink::spawn(uplink_start, uplink_stop.clone());
    let ble = crate::ble::start::start(&cfg, &reach, clock.clone(), &tracker, &inputs)
        .await
        .map_err(|why| DaemonError::Failed { task: "BLE", why })?;
    let mut running = Running {
        opts,
        cfg: cfg.clone(),
        store: store.clone(),
        access: access_handle.clone(),
        clock,
        trust,
        doors: None,
        doors_tx,
        uplink: uplink.clone(),
        ble,
        applied: 0,
        checkpointer: checkpointer.clone(),
    };
    running.start_doors(NewAccess { built, key: cfg.credential_key.clone(), generation: 0 }).await?;
    let uplink_task = tokio::spawn(uplink_run);

    tracker.spawn(async move {
        if let Err(e) = access_task.await {
            let _ = failed_tx.send(("the access actor", e.to_string())).await;
        }
    });
    if let Some(c) = checkpointer {
        tracker.spawn(checkpoints::run(c, cfg.checkpoints.every, running.trust.clone(), inputs.clone()));
    }
    tracker.spawn(retention::run(store.clone(), running.clock.clone(), running.trust.clone(), inputs.clone()));
    let tracker_floor = TrustTracker::new(floor, cfg.daemon.jump_tolerance);
    let flag = cfg.daemon.synchronized_flag.clone();
    tracker.spawn(clock_watch::run(flag, tracker_floor, store.clone(), trust_tx, inputs.clone()));
    let listener = local_socket::bind(&cfg.daemon.control_socket).await?;
    if let Some(interval) = running.opts.notifier.watchdog_interval() {
        let (store, access, doors, uplink) = (store.clone(), access_handle.clone(), doors_rx.clone(), uplink.clone());
        let round = move || probes(&store, &access, &uplink, &doors);
        tracker.spawn(watchdog::run(running.opts.notifier.clone(), interval / 2, round, inputs.clone()));
    }
    tracker.spawn(control::serve(listener, cfg.daemon.control_socket.clone(), reach, inputs.clone()));

    // Ready only when the gateway has locked every strike and turns, and the access
    // actor has made its first intake round.
    let ready = match running.view() {
        Some(v) => v.gateway.ping().await && running.access.ping().await,
        None => false,
    };
    if !ready {
        return Err(DaemonError::Failed { task: "the gateway", why: "did not start".into() });
    }
    running.opts.notifier.ready(&format!("serving {} door(s)", cfg.policy.doors.len()));
    log::info!(
        "serving {} door(s) on {} bus(es); control socket {}",
        cfg.policy.doors.len(),
        cfg.buses.len(),
        cfg.daemon.control_socket.display()
    );
    Ok((running, Tasks { inputs, tracker, failed, updates, reloads, uplink_stop, uplink_task, store_thread }))
}

/// Serves until a stop signal or a failure.
async fn serve(
    running: &mut Running,
    tasks: &mut Tasks,
    signals: &mut mpsc::Receiver<Signal>,
) -> Result<(), DaemonError> {
    let mut trust_changes = running.trust.clone();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            signal = signals.recv() => match signal {
                // A refused configuration is logged and audited inside.
                Some(Signal::Reload) => { let _ = running.reload().await?; }
                Some(Signal::Stop) | None => return Ok(()),
            },
            Some((task, why)) = tasks.failed.recv() => return Err(DaemonError::Failed { task, why }),
            Some(reply) = tasks.reloads.recv() => {
                let outcome = running.reload().await?;
                let _ = reply.send(outcome);
            }
            Some(access) = tasks.updates.recv() => running.take_access(access).await,
            Ok(()) = trust_changes.changed() => {
                let now = *trust_changes.borrow_and_update();
                if let Some(view) = running.view() {
                    view.gateway.clock(now).await;
                }
            }
            _ = check.tick() => {
                if running.doors.as_ref().is_some_and(Doors::gateway_ended) {
                    return Err(DaemonError::Failed { task: "the gateway", why: "its task ended".into() });
                }
            }
        }
    }
}

/// Stops in order: inputs, doors, then the store (flushed and closed).
async fn stop(mut running: Running, tasks: Tasks, outcome: &Result<(), DaemonError>) {
    running.opts.notifier.stopping();
    log::info!("stopping");
    let stop_started = Instant::now();
    let Tasks { inputs, tracker, failed, updates, reloads, uplink_stop, uplink_task, store_thread } = tasks;
    inputs.cancel();
    tracker.close();
    if tokio::time::timeout(STOP_WITHIN / 4, tracker.wait()).await.is_err() {
        log::error!("the control socket, intake, clock or watchdog did not stop in time");
    }
    drop((failed, updates, reloads));
    running.stop_doors().await;
    let trusted = running.trust.borrow().is_trusted();
    let why = match outcome {
        Ok(()) => "stopped".to_owned(),
        Err(e) => e.to_string(),
    };
    running.audit(event(EventKind::SystemStop, trusted, &serde_json::json!({ "why": why }))).await;
    // The clock floor as of now (it is otherwise kept every 10 min): an orderly stop loses
    // none of it.
    if trusted {
        let now = running.clock.now();
        if let Err(e) = running.store.call(move |s| s.raise_clock_floor(now)).await {
            log::error!("the clock floor was not kept at the stop: {e}");
        }
    }
    // A last checkpoint covering `system.stop`, so a collector holds the chain's end.
    if let Some(c) = running.checkpointer.as_mut()
        && let Err(e) = c.checkpoint(trusted).await
    {
        log::error!("the last checkpoint was not stored: {e}");
    }
    // The uplink last: a short drain (so `system.stop` reaches the collector), `offline`.
    uplink_stop.cancel();
    if tokio::time::timeout(STOP_WITHIN / 2, uplink_task).await.is_err() {
        log::error!("the uplink did not stop in time");
    }
    drop(running);
    let rest = STOP_WITHIN.saturating_sub(stop_started.elapsed());
    let joined = tokio::task::spawn_blocking(move || store_thread.join().is_ok());
    match tokio::time::timeout(rest, joined).await {
        Ok(Ok(true)) => log::info!("store flushed and closed"),
        _ => log::error!("the store did not close within {STOP_WITHIN:?}"),
    }
}

/// Runs the daemon until `signals` says stop (or closes), or a task fails.
pub async fn run(opts: RunOptions, mut signals: mpsc::Receiver<Signal>) -> Result<(), DaemonError> {
    let (mut running, mut tasks) = start(opts).await?;
    let outcome = serve(&mut running, &mut tasks, &mut signals).await;
    stop(running, tasks, &outcome).await;
    outcome
}
