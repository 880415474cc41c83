//! Process exit codes, from sysexits(3), so systemd and scripts can tell failures apart.
//! The unit file's `RestartPreventExitStatus=78` keeps a bad config from restart-looping.

/// Success.
pub const OK: u8 = 0;
/// A runtime failure (systemd restarts the daemon).
pub const FAILURE: u8 = 1;
/// The command line was used wrongly (`EX_USAGE`).
pub const USAGE: u8 = 64;
/// Input data, such as an allowlist file, is malformed (`EX_DATAERR`).
pub const DATA: u8 = 65;
/// A service is not available: no daemon answers on the control socket (`EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;
/// The store database is damaged or from a newer version (`EX_IOERR`); restarting
/// would only fail again, so systemd must not restart on it.
pub const STORE: u8 = 74;
/// The configuration is invalid (`EX_CONFIG`).
pub const CONFIG: u8 = 78;

/// Parses the command line into `T`; a mistake is printed and is `Err` with 64 (`EX_USAGE`),
/// `--help` and `--version` are printed and are `Err` with 0.
pub fn parse_args<T: clap::Parser>() -> Result<T, std::process::ExitCode> {
    T::try_parse().map_err(|e| {
        let _ = e.print();
        std::process::ExitCode::from(if e.use_stderr() { USAGE } else { OK })
    })
}
