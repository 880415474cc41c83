//! `portvakt-central demo`: the fleet's receiving side working on one machine. In a
//! temporary folder it starts a throwaway PostgreSQL, a three-node NATS JetStream cluster
//! on loopback, two collectors (instances of one durable consumer, in this process) and a
//! few real gateways against simulated buildings; plays a scripted period in which people
//! use the doors, a door is forced, and one broker node is killed with SIGKILL and started
//! again; checks that every record of every gateway is stored with its chain intact; then
//! prints the fleet, the alarms and the visit list, and removes everything it started.
//! With `--keep-running` everything stays up; with an identity provider named, the staff
//! side too (the app at `/personal/`, each gateway's simulated BLE socket to open with).

mod cluster;
mod gateway;
pub mod postgres;
mod privacy;
mod script;
mod staff;
pub mod tools;

use std::path::PathBuf;

use crate::db::DbError;

pub use script::run;
pub use staff::Provider;

/// What the demo is run with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The example building every simulated gateway runs (`config/portvakt.toml`); its
    /// `secrets/` and `example-residents.csv` are beside it.
    pub gateway_config: PathBuf,
    /// How many gateways (sites), 1 to 6.
    pub gateways: usize,
    /// Keep the temporary folder (logs, databases) instead of removing it.
    pub keep: bool,
    /// After the scripted day, keep everything running (the console too) until Ctrl-C.
    pub keep_running: bool,
    /// Where the console listens (a free loopback port when not given).
    pub listen: Option<std::net::SocketAddr>,
    /// The staff side with this identity provider (with `keep_running`): the staff app at
    /// `/personal`, Central issuing shift certificates for the home-care team.
    pub staff: Option<Provider>,
    /// The staff side with a provider the demo starts itself (`oidc-provider` from npm).
    pub local_provider: bool,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A program or file it needs is not there.
    #[error("{what} is missing: {hint}")]
    Missing {
        /// What.
        what: String,
        /// How to get it.
        hint: String,
    },
    /// A step failed.
    #[error("{what}: {detail}")]
    Step {
        /// The step.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// A file or process could not be used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("{0}")]
    Db(#[from] DbError),
}

impl DemoError {
    fn step(what: &str, detail: impl Into<String>) -> Self {
        Self::Step { what: what.to_owned(), detail: detail.into() }
    }

    fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io { what: what.to_owned(), source }
    }
}
