//! `[store]` as the store is set up with it: the database file, its cap on disk, how
//! long records stay, and whether the site keeps them locally (no uplink). Plain data the
//! store is opened with; validated in [`super::validate`].

use std::path::PathBuf;

use jiff::SignedDuration;

/// How the store is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The database file.
    pub path: PathBuf,
    /// Largest size on disk, in bytes.
    pub max_size_bytes: u64,
    /// How long records stay for visit lists (confirmed ones; every one when kept locally).
    pub retention: SignedDuration,
    /// The site has no uplink: nothing will confirm the records, so retention and the
    /// cap apply to all of them (an outbox nobody drains would otherwise keep visit lists
    /// forever and, once full, refuse new records).
    pub kept_locally: bool,
}
