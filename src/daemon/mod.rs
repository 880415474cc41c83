//! The daemon (`portvakt run`): the supervisor and the pieces it starts — the door
//! subsystem, the access actor (intake and rebuilds), the clock watcher, the control
//! socket, the watchdog — plus systemd notification and logging. See
//! `docs/ARCHITECTURE.md` for the tasks and channels.

pub mod checkpoints;
pub mod client;
pub mod clock_watch;
pub mod control;
pub mod doors;
pub mod logging;
pub mod notify;
pub mod process;
pub mod restore;
pub mod retention;
mod running;
pub mod supervisor;
pub mod watchdog;

pub use process::run_process;
pub use supervisor::{DaemonError, RunOptions, STOP_WITHIN, Signal, run};
