//! The pure core: the access model, schedules and holidays, credentials, lockout, clock
//! trust and the decision. No I/O, no async, no clock reads: every function that needs
//! the time takes `now`. The daemon's actors and the owner tools all call into this.

pub mod allowlist;
pub mod allowlist_index;
pub mod booking;
pub mod clock;
pub mod credential;
pub mod decide;
pub mod decision;
pub mod entry_age;
pub mod expiry;
pub mod free_passage;
pub use portvakt_wire::hex;
pub mod holidays;
pub mod ids;
pub mod lockout;
pub mod model;
pub mod monotonic;
pub mod owner_policy;
pub mod schedule;
pub mod secret;
