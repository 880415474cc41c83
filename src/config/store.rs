//! `[store]` as the store is set up with it: the database file, its cap on disk, how
//! long records and their personal parts stay, and whether the site keeps them locally
//! (no uplink). Plain data the
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
    /// How long records' personal parts stay (`docs/audit.md`, Retention classes).
    pub personal: PersonalRetention,
}

impl Default for PersonalRetention {
    /// 14 days for residents' passages, 2 days after confirmation for staff visits.
    fn default() -> Self {
        Self {
            residents: SignedDuration::from_hours(14 * 24),
            staff: SignedDuration::from_hours(2 * 24),
            staff_audiences: Vec::new(),
        }
    }
}

/// How long personal parts stay on the gateway, by whose they are. Erasing one deletes
/// holder, credential and salt and keeps the header and commitment: the chain verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalRetention {
    /// Residents' passages (the owner's records) and contractors': from the record's time.
    pub residents: SignedDuration,
    /// Staff visits (a municipality's records): from when the collector confirmed them.
    pub staff: SignedDuration,
    /// The municipalities' ids (their records are staff visits).
    pub staff_audiences: Vec<String>,
}
