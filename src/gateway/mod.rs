//! The gateway: the task that owns the access core's state and the doors, joined to the
//! buses and the store. The daemon's supervisor (later) starts it with the other actors.

pub mod clock;
pub mod doors;
