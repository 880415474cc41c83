//! The systemd notification protocol (`sd_notify`): one datagram per state change to the
//! Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
//! The socket is given explicitly, so tests bind their own and nothing reads the process
//! environment behind the caller's back. Without a socket every call is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::time::Duration;

/// Where notifications go, and the watchdog interval systemd asked for.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<PathBuf>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Notifies `socket`; `watchdog` is the interval within which pings must arrive.
    pub fn to(socket: impl Into<PathBuf>, watchdog: Option<Duration>) -> Self {
        Self { socket: Some(socket.into()), watchdog }
    }

    /// From the values systemd puts in the environment (`NOTIFY_SOCKET`,
    /// `WATCHDOG_USEC`; `WATCHDOG_PID` must be ours when set).
    pub fn from_env_values(socket: Option<String>, usec: Option<String>, pid: Option<String>) -> Self {
        let ours = pid.is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = usec.and_then(|u| u.trim().parse::<u64>().ok()).filter(|_| ours).map(Duration::from_micros);
        Self { socket: socket.filter(|s| !s.is_empty()).map(PathBuf::from), watchdog }
    }

    /// The watchdog interval systemd enforces, if any.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, state: &str) {
        let Some(path) = &self.socket else { return };
        let result = (|| {
            let sock = UnixDatagram::unbound()?;
            // Never wait on the receiver: a notification that finds its queue full is
            // lost (and logged), rather than stalling the supervisor that sends it.
            sock.set_nonblocking(true)?;
            let text = path.to_string_lossy();
            if let Some(name) = text.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt as _;
                sock.send_to_addr(state.as_bytes(), &SocketAddr::from_abstract_name(name.as_bytes())?)
            } else {
                sock.send_to(state.as_bytes(), path)
            }
        })();
        if let Err(e) = result {
            log::warn!("systemd notification \"{}\" not sent: {e}", state.lines().next().unwrap_or(""));
        }
    }

    /// `READY=1`: the daemon serves doors.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// `STATUS=…`: what `systemctl status` shows beside the unit.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    /// `WATCHDOG=1`: every loop showed progress.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// `RELOADING=1`, with the monotonic time systemd wants beside it.
    pub fn reloading(&self) {
        let usec = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map_or(0, |t| t.tv_sec().unsigned_abs() * 1_000_000 + t.tv_nsec().unsigned_abs() / 1_000);
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_arrive_as_datagrams_at_the_given_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::to(&path, None);
        n.ready("serving 3 doors");
        n.watchdog();
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving 3 doors");
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }

    #[test]
    fn the_watchdog_interval_is_taken_only_when_it_is_meant_for_this_process() {
        let ours = Notifier::from_env_values(Some("/run/x".into()), Some("30000000".into()), None);
        assert_eq!(ours.watchdog_interval(), Some(Duration::from_secs(30)));
        let other = Notifier::from_env_values(Some("/run/x".into()), Some("30000000".into()), Some("1".into()));
        assert_eq!(other.watchdog_interval(), None);
    }
}
