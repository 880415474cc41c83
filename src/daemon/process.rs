//! The daemon as a process: the runtime (one thread — the store has its own), Unix
//! signals turned into [`Signal`]s (SIGHUP reloads, SIGTERM and SIGINT stop), and the
//! systemd notification socket taken from the environment.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::notify::Notifier;
use super::supervisor::{DaemonError, RunOptions, Signal, run};
use crate::config::LoadOptions;

/// Runs `portvakt run` until stopped; the error says why it stopped otherwise.
pub fn run_process(load: LoadOptions, simulate: bool) -> Result<(), DaemonError> {
    let io = |e: std::io::Error| DaemonError::Failed { task: "the runtime", why: e.to_string() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io)?;
    let env = |k: &str| std::env::var(k).ok();
    let notifier = Notifier::from_env_values(env("NOTIFY_SOCKET"), env("WATCHDOG_USEC"), env("WATCHDOG_PID"));
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel(4);
        let mut hup = signal(SignalKind::hangup()).map_err(io)?;
        let mut term = signal(SignalKind::terminate()).map_err(io)?;
        let mut int = signal(SignalKind::interrupt()).map_err(io)?;
        tokio::spawn(async move {
            loop {
                let s = tokio::select! {
                    _ = hup.recv() => Signal::Reload,
                    _ = term.recv() => Signal::Stop,
                    _ = int.recv() => Signal::Stop,
                };
                if tx.send(s).await.is_err() {
                    return;
                }
            }
        });
        let clock = std::sync::Arc::new(crate::gateway::clock::SystemClock);
        run(RunOptions { load, simulate, notifier, clock }, rx).await
    })
}
