//! The door subsystem the supervisor starts and stops as one: a bus actor per configured
//! bus (a `sim` bus first gets its simulated building, served over Modbus TCP on
//! loopback, so the daemon's path is the real one), the forwarders that tag bus events,
//! and the gateway. It is restarted as a whole when a reload changes buses or wiring.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{BusLink, Config};
use crate::core::decide::AccessState;
use crate::gateway::clock::Clock;
use crate::gateway::doors::{EVENTS, Gateway, tag_events};
use crate::modbus::bus;
use crate::modbus::sim::{SimBuilding, serve};

/// How often door timers run (pulse ends, held-open alarms).
pub const TICK: Duration = Duration::from_millis(50);

pub use crate::site::view::DoorsView;

/// The running door subsystem.
pub struct Doors {
    view: Arc<DoorsView>,
    cancel: CancellationToken,
    gateway_task: JoinHandle<()>,
    bus_tasks: Vec<JoinHandle<()>>,
    sim_tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Doors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doors").field("buses", &self.bus_tasks.len()).finish_non_exhaustive()
    }
}

/// Why the doors could not start.
#[derive(Debug, thiserror::Error)]
#[error("the simulated building for bus \"{bus}\" cannot listen on loopback: {source}")]
pub struct DoorsError {
    /// The bus.
    pub bus: String,
    /// Why.
    pub source: std::io::Error,
}

impl Doors {
    /// Starts buses and gateway for `cfg`; the gateway locks every strike, applies the
    /// door modes and then serves.
    pub async fn start(
        cfg: Arc<Config>,
        state: AccessState,
        store: crate::store::Handle,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, DoorsError> {
        let mut run_cfg = Config::clone(&cfg);
        let (gw_tx, gw_rx) = mpsc::channel(EVENTS);
        let mut buses = Vec::new();
        let mut sims = Vec::new();
        let mut bus_tasks = Vec::new();
        let mut sim_tasks = Vec::new();
        for (i, b) in run_cfg.buses.iter_mut().enumerate() {
            if b.link == BusLink::Sim {
                let sim = SimBuilding::for_bus(b);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|source| DoorsError { bus: b.name.clone(), source })?;
                let addr = listener.local_addr().map_err(|source| DoorsError { bus: b.name.clone(), source })?;
                log::info!("bus \"{}\": simulated building on modbus tcp://{addr}", b.name);
                b.link = BusLink::Tcp { address: addr.to_string() };
                sim_tasks.push(tokio::spawn(serve(sim.clone(), listener)));
                sims.push((b.name.clone(), sim));
            }
            let (tx, rx) = mpsc::channel(bus::EVENTS);
            let (handle, task) = bus::spawn(b.clone(), tx);
            tag_events(i, rx, gw_tx.clone());
            buses.push((b.name.clone(), handle));
            bus_tasks.push(task);
        }
        drop(gw_tx);
        let cancel = CancellationToken::new();
        let gateway = Gateway::new(&run_cfg, state, buses.iter().map(|(_, h)| h.clone()).collect(), store, clock);
        let (gateway, gateway_task) = gateway.spawn(gw_rx, TICK, cancel.clone());
        let view = Arc::new(DoorsView { gateway, buses, sims, cfg: Arc::new(run_cfg) });
        Ok(Self { view, cancel, gateway_task, bus_tasks, sim_tasks })
    }

    /// What other tasks may reach.
    pub fn view(&self) -> Arc<DoorsView> {
        self.view.clone()
    }

    /// Whether the gateway task has ended (it only does when told to, or by a fault).
    pub fn gateway_ended(&self) -> bool {
        self.gateway_task.is_finished()
    }

    /// Stops the doors: the gateway locks every strike and saves the lockouts, then the
    /// buses carry out what is queued and stop. Waits at most `within`; what is still
    /// running then is aborted. Other holders of the view must have dropped it.
    pub async fn stop(self, within: Duration) {
        let Self { view, cancel, gateway_task, bus_tasks, sim_tasks } = self;
        drop(view);
        cancel.cancel();
        let deadline = tokio::time::Instant::now() + within;
        let abort = gateway_task.abort_handle();
        if tokio::time::timeout_at(deadline, gateway_task).await.is_err() {
            log::error!("the gateway did not stop within {within:?}; aborted");
            abort.abort();
        }
        for task in bus_tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                log::error!("a bus actor did not stop in time; aborted");
                abort.abort();
            }
        }
        for task in sim_tasks {
            task.abort();
        }
    }
}
