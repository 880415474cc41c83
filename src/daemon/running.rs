//! The running daemon as the supervisor keeps it: the configuration in use, the doors
//! (started, restarted when buses or wiring change, stopped), the newest access build
//! handed to them (an older one is dropped), and reloads — a new configuration taken in
//! whole or refused whole, every problem logged and audited.

use std::sync::Arc;

use tokio::sync::watch;

use super::checkpoints::Checkpointer;
use super::doors::{Doors, DoorsView};
use super::restore;
use super::supervisor::{DaemonError, RunOptions, STOP_WITHIN, event, load};
use crate::access;
use crate::config::{Config, ConfigError};
use crate::core::clock::ClockState;
use crate::gateway::clock::Clock;
use crate::gateway::handle::NewAccess;
use crate::store::{EventKind, NewEvent};

/// Whether a new configuration changes what the door subsystem was built from.
fn doors_changed(old: &Config, new: &Config) -> bool {
    let shape = |c: &Config| c.policy.doors.iter().map(|d| (d.id.clone(), d.pulse)).collect::<Vec<_>>();
    old.buses != new.buses || old.wiring != new.wiring || shape(old) != shape(new)
}

pub(super) struct Running {
    pub(super) opts: RunOptions,
    pub(super) cfg: Arc<Config>,
    pub(super) store: crate::store::Handle,
    pub(super) access: access::Handle,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) trust: watch::Receiver<ClockState>,
    pub(super) doors: Option<Doors>,
    pub(super) doors_tx: watch::Sender<Option<Arc<DoorsView>>>,
    pub(super) uplink: crate::uplink::Handle,
    pub(super) ble: watch::Sender<Option<crate::ble::exchange::Settings>>,
    /// The access build the doors run with (see [`NewAccess::generation`]).
    pub(super) applied: u64,
    /// Signs the audit chain's checkpoints (none without a device key).
    pub(super) checkpointer: Option<Checkpointer>,
}

impl Running {
    pub(super) fn view(&self) -> Option<Arc<DoorsView>> {
        self.doors_tx.borrow().clone()
    }

    pub(super) async fn audit(&self, e: NewEvent) {
        if let Err(err) = self.store.append(e).await {
            log::error!("audit record not stored: {err}");
        }
    }

    pub(super) async fn refuse(&self, problems: Vec<String>) {
        log::error!("the new configuration is refused; the running one stays:");
        for p in &problems {
            log::error!("  {p}");
        }
        let trusted = self.trust.borrow().is_trusted();
        self.audit(event(EventKind::ConfigRefused, trusted, &serde_json::json!({ "problems": problems }))).await;
    }

    /// Whether `access` is newer than what the doors run with (then it is taken as the
    /// newest); an older build arriving late is dropped.
    pub(super) fn newest(&mut self, access: &NewAccess) -> bool {
        if access.generation < self.applied {
            log::info!("access inputs of build {} dropped: build {} is in use", access.generation, self.applied);
            return false;
        }
        self.applied = access.generation;
        true
    }

    /// Hands a newer access build to the running gateway, and says so beside the unit
    /// once it is queued ahead of every later request (an older build is dropped).
    pub(super) async fn take_access(&mut self, access: NewAccess) {
        let Some(view) = self.view() else { return };
        if !self.newest(&access) {
            return;
        }
        let generation = access.generation;
        if view.gateway.replace(access).await {
            let doors = self.cfg.policy.doors.len();
            self.opts.notifier.status(&format!("serving {doors} door(s); access build {generation} in force"));
        }
    }

    pub(super) async fn start_doors(&mut self, access: NewAccess) -> Result<(), DaemonError> {
        self.applied = self.applied.max(access.generation);
        let ((lockouts, damaged), rows) = self.store.call(|s| Ok((s.lockouts()?, s.door_modes()?))).await?;
        let trusted = self.trust.borrow().is_trusted();
        restore::drop_damaged_lockouts(&self.store, damaged, trusted).await?;
        let modes = restore::sealed_modes(&self.store, &self.cfg.credential_key, rows, trusted).await?;
        let state = restore::access_state(&self.cfg, access.built, &lockouts, &modes, *self.trust.borrow());
        let doors = Doors::start(self.cfg.clone(), state, self.store.clone(), self.clock.clone()).await?;
        self.doors_tx.send_replace(Some(doors.view()));
        self.doors = Some(doors);
        Ok(())
    }

    pub(super) async fn stop_doors(&mut self) {
        self.doors_tx.send_replace(None);
        if let Some(doors) = self.doors.take() {
            doors.stop(STOP_WITHIN / 2).await;
        }
    }

    /// The new configuration and the access inputs built for it, or every problem.
    pub(super) async fn prepare_reload(&self) -> Result<(Arc<Config>, NewAccess), Vec<String>> {
        let new = match load(&self.opts) {
            Ok(c) => Arc::new(c),
            Err(ConfigError::Invalid(problems)) => return Err(problems.iter().map(ToString::to_string).collect()),
            Err(e) => return Err(vec![e.to_string()]),
        };
        let access = self.access.reload(new.clone()).await?;
        Ok((new, access))
    }

    /// Reloads; the inner result says whether the new configuration was taken or why not.
    pub(super) async fn reload(&mut self) -> Result<Result<(), Vec<String>>, DaemonError> {
        self.opts.notifier.reloading();
        log::info!("reloading the configuration");
        let (new, access) = match self.prepare_reload().await {
            Ok(ready) => ready,
            Err(problems) => {
                self.refuse(problems.clone()).await;
                self.opts.notifier.ready("serving; the new configuration was refused");
                return Ok(Err(problems));
            }
        };
        for w in &new.warnings {
            log::warn!("{w}");
        }
        if new.store != self.cfg.store || new.daemon.control_socket != self.cfg.daemon.control_socket {
            log::warn!("store and control socket settings take effect at the next start");
        }
        let transports = |c: &Config| c.ble.as_ref().map(|b| (b.adapter.clone(), b.socket.clone()));
        if transports(&new) != transports(&self.cfg) {
            log::warn!("[ble] adapter and socket take effect at the next start; limits apply now");
        }
        let restart = doors_changed(&self.cfg, &new);
        self.cfg = new;
        if restart {
            log::info!("buses or wiring changed: restarting the doors");
            self.stop_doors().await;
            self.start_doors(access).await?;
        } else {
            self.take_access(access).await;
        }
        log::set_max_level(self.cfg.daemon.log_level);
        self.uplink.reconfigure(self.cfg.clone()).await;
        self.ble.send_replace(crate::ble::actor::settings(&self.cfg));
        let files: Vec<String> = self.cfg.files.iter().map(|f| f.display().to_string()).collect();
        let trusted = self.trust.borrow().is_trusted();
        let detail = serde_json::json!({ "files": files, "doors_restarted": restart });
        self.audit(event(EventKind::ConfigReloaded, trusted, &detail)).await;
        self.opts.notifier.ready(&format!("serving {} door(s)", self.cfg.policy.doors.len()));
        log::info!("configuration reloaded");
        Ok(Ok(()))
    }
}
