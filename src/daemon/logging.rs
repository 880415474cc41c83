//! Logging for the daemon: to journald (with structured fields such as `DOOR`, `BUS`,
//! `SEQ` from `log`'s key-values) when started by systemd with its output connected to
//! the journal, to stderr otherwise. Decisions go to the audit log, not here: the journal
//! gets start-up, faults, reloads and refusals of input, at a modest volume.

/// Where log lines went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The systemd journal.
    Journal,
    /// Standard error.
    Stderr,
}

/// Sets up the process's logger once; `level` is the most detailed level written.
/// `journal_stream` is `JOURNAL_STREAM` from the environment (set by systemd when stderr
/// goes to the journal).
pub fn init(level: log::LevelFilter, journal_stream: Option<&str>) -> LogTarget {
    if journal_stream.is_some_and(|s| !s.is_empty())
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
    {
        let journal = journal.with_extra_fields(vec![("VERSION", env!("CARGO_PKG_VERSION"))]);
        if journal.install().is_ok() {
            log::set_max_level(level);
            return LogTarget::Journal;
        }
    }
    let _ = env_logger::Builder::new().filter_level(level).format_timestamp(None).format_target(false).try_init();
    LogTarget::Stderr
}
