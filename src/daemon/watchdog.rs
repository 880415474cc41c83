//! The watchdog: systemd restarts the daemon when `WATCHDOG=1` stops arriving, so it is
//! sent only when every loop has answered a probe through its own mailbox since the last
//! ping — a wedged bus actor, a stuck store or a gateway that stopped turning stops the
//! pings, never a blind timer. Each round asks every probe with a deadline; a probe that
//! misses it is named in the log once until it answers again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::notify::Notifier;

/// A liveness probe: answers `true` when its loop went round.
pub type ProbeFn = Box<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// The probes of one round, named for the log; the caller builds them fresh each round
/// (so a restarted door subsystem is probed through its new handles).
pub type Probes = Vec<(String, ProbeFn)>;

/// Runs one round: `true` when every probe answered within `deadline`.
pub async fn round(probes: &Probes, deadline: Duration, wedged: &mut Vec<String>) -> bool {
    let mut all = true;
    for (name, probe) in probes {
        let ok = tokio::time::timeout(deadline, probe()).await.unwrap_or(false);
        if ok {
            if let Some(i) = wedged.iter().position(|w| w == name) {
                wedged.remove(i);
                log::warn!("{name} answers again");
            }
        } else {
            all = false;
            if !wedged.contains(name) {
                log::error!("{name} did not answer within {deadline:?}: withholding the watchdog ping");
                wedged.push(name.clone());
            }
        }
    }
    all
}

/// Pings systemd every `every` while all probes answer; stops at `cancel`.
pub async fn run(
    notifier: Notifier,
    every: Duration,
    mut probes: impl FnMut() -> Probes + Send,
    cancel: CancellationToken,
) {
    let mut wedged = Vec::new();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let set = probes();
        if round(&set, every / 2, &mut wedged).await {
            notifier.watchdog();
        }
    }
}

/// A probe that asks through `handle` (cloned for each round) with `check`.
pub fn probe<H, F, Fut>(handle: H, check: F) -> ProbeFn
where
    H: Clone + Send + Sync + 'static,
    F: Fn(H) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    Box::new(move || Box::pin(check(handle.clone())))
}
