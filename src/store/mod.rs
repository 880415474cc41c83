//! The durable local store (SQLite): the audit hash chain, the outbox the uplink drains,
//! and the state the gateway restores at start. One thread owns the connection
//! ([`actor`]); others reach it through a [`actor::Handle`]. A record is durable (its
//! transaction fsync'd) before the append call returns.

pub mod actor;
pub mod cells;
pub mod db;
pub mod form;
pub mod lookup;
pub mod record;
pub mod schema;
pub mod state;
pub mod writer_lock;

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

pub use actor::Handle;
pub use db::{Appended, AuditFilter, EpochReason, Store, StoreHealth, StoreOptions, StoredRecord, VerifyReport};
pub use record::{AuditRecord, ChainBreak, EventKind, NewEvent};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a usable SQLite database.
    #[error(
        "{path} is damaged or is not a Portvakt store ({detail}). Move it aside (mv {path} {path}.damaged) \
         and start again: the gateway starts with an empty store and keeps deciding; authorities resend their bundles"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// SQLite's words.
        detail: String,
    },
    /// A newer Portvakt wrote this database.
    #[error(
        "{path} was written by a newer Portvakt (schema {found}; this one knows {supported}); reinstall the newer version"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// Ours.
        supported: u32,
    },
    /// An older schema opened read-only (the daemon migrates it at start).
    #[error("{path} has schema {found}; start the daemon once to migrate it to {current}")]
    OlderSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// Ours.
        current: u32,
    },
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("{path}: {op}: {source}")]
    Sql {
        /// The file.
        path: String,
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored value is not of the type its column holds (written by hand, or damaged),
    /// where the gateway cannot step over it.
    #[error(
        "{path}: {op}: a stored value is damaged ({detail}). Move the store aside (mv {path} {path}.damaged) \
         and start again: the gateway starts with an empty store and keeps deciding; authorities resend their bundles"
    )]
    Damaged {
        /// The file.
        path: String,
        /// What was being read (the table).
        op: &'static str,
        /// SQLite's words: the column and the type found.
        detail: String,
    },
    /// The transaction holding this event failed; every event of it gets this error.
    #[error("{path}: the transaction with this event failed: {detail}")]
    BatchFailed {
        /// The file.
        path: String,
        /// The failure, as the first caller saw it.
        detail: String,
        /// Whether the database is unusable.
        unusable: bool,
    },
    /// Another process writes this store (the daemon, most likely).
    #[error(
        "{path} is in use by another writer (the portvakt daemon is running?); while it runs, every change \
         goes through it: `portvakt intake` asks it over the control socket, or stop it first"
    )]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The store actor has stopped.
    #[error("the store has stopped")]
    Closed,
}

impl StoreError {
    pub(crate) fn from_sql(path: &Path, op: &'static str, e: rusqlite::Error) -> Self {
        let path = path.display().to_string();
        match (&e, e.sqlite_error_code()) {
            (_, Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)) => {
                Self::Corrupt { path, detail: e.to_string() }
            }
            (
                rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..),
                _,
            ) => Self::Damaged { path, op, detail: e.to_string() },
            _ => Self::Sql { path, op, source: e },
        }
    }

    /// Whether the database itself is unusable (the daemon exits with a distinct code
    /// instead of restarting into the same failure).
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            Self::Corrupt { .. }
                | Self::Damaged { .. }
                | Self::NewerSchema { .. }
                | Self::BatchFailed { unusable: true, .. }
        )
    }
}
