//! The gateway: the task that owns the access core's state and the doors, joined to the
//! buses and the store, reached through its [`handle::Handle`]. The daemon's supervisor
//! starts it with the other actors.

pub mod audit_writer;
pub mod clock;
pub mod doors;
pub mod handle;
mod strikes;
