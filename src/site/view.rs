//! The running doors as the rest of the daemon and its edges see them: the gateway's
//! handle, each bus's handle, the simulated buildings and the configuration the doors
//! run with. Replaced whenever the door subsystem restarts.

use std::sync::Arc;

use crate::config::Config;
use crate::gateway::handle::Handle as GatewayHandle;
use crate::modbus::bus::BusHandle;
use crate::modbus::sim::SimBuilding;

/// What other tasks may reach of the running doors (status, pulse, watch, the watchdog).
#[derive(Debug, Clone)]
pub struct DoorsView {
    /// The gateway.
    pub gateway: GatewayHandle,
    /// Each bus by name.
    pub buses: Vec<(String, BusHandle)>,
    /// Simulated buildings by bus name (`sim` buses only).
    pub sims: Vec<(String, SimBuilding)>,
    /// The configuration the doors run with (`sim` buses already pointed at their
    /// buildings' loopback addresses).
    pub cfg: Arc<Config>,
}
