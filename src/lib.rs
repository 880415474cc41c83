//! Portvakt: an edge gateway daemon for the shared doors of apartment buildings.
//!
//! The library holds everything; the `portvakt` binary only parses the command line and
//! maps errors to exit codes. See `docs/ARCHITECTURE.md` for how the parts fit.

pub mod access;
pub mod admin;
pub mod ble;
pub mod config;
pub mod core;
pub mod credentials;
pub mod daemon;
pub mod demo;
pub mod door;
pub mod exit;
pub mod gateway;
pub mod modbus;
pub mod site;
pub mod store;
pub mod tools;
pub mod uplink;
