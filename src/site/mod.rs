//! What a running site shares between the daemon and its edges (the control socket, the
//! uplink, the BLE edge; later Central reads the same status): the doors' view, the
//! status report, what the edges reach, and local sockets. It lives below all of them,
//! so no edge imports `daemon/`.

pub mod local_socket;
pub mod names;
pub mod reach;
pub mod status;
pub mod view;
