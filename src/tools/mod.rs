//! Owner and installer tools that run the same core as the daemon: the config summary
//! (`check-config`), `explain` (a decision in plain words), the week grid (`schedule`),
//! and the trial allowlist file they read. Each returns text; `main` prints it.

pub mod allowlist_file;
pub mod audit_anchor;
pub mod audit_view;
pub mod doctor;
pub mod explain;
pub mod in_force;
pub mod installer;
pub mod intake_run;
pub mod summary;
pub mod time_input;
pub mod week_grid;
