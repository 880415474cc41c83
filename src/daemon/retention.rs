//! Retention of the visit list (personal data): at start and then every hour, personal
//! parts past their class's period are erased (`Store::erase_personal`: residents'
//! passages after `store.residents_days`, staff visits `store.staff_days` after the
//! collector confirmed them), and the records older than `store.retention_days` leave
//! the store (`Store::prune_expired`: with an uplink only confirmed ones, at a site kept
//! locally every one). Never while the clock is untrusted: a clock that jumped years
//! ahead would otherwise delete the whole log.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::clock::ClockState;
use crate::gateway::clock::Clock;

/// How often retention is applied.
pub const EVERY: Duration = Duration::from_secs(3600);

/// One round: prunes what is past retention if the clock is trusted; how many went.
pub async fn apply(store: &crate::store::Handle, clock: &dyn Clock, trust: ClockState) -> u64 {
    if !trust.is_trusted() {
        return 0;
    }
    match store.erase_personal(clock.now()).await {
        Ok(0) => {}
        Ok(n) => log::info!("retention: {n} record(s)' personal parts erased (headers and commitments kept)"),
        Err(e) => log::error!("personal parts not erased: {e}"),
    }
    match store.prune_expired(clock.now()).await {
        Ok(0) => 0,
        Ok(n) => {
            log::info!("retention: {n} record(s) past store.retention_days left the store");
            n
        }
        Err(e) => {
            log::error!("retention not applied: {e}");
            0
        }
    }
}

/// Applies retention at once, every [`EVERY`], and whenever the clock becomes trusted,
/// until `cancel`.
pub async fn run(
    store: crate::store::Handle,
    clock: Arc<dyn Clock>,
    mut trust: watch::Receiver<ClockState>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
            // `apply` does nothing while untrusted: a change to trusted prunes at once.
            changed = trust.changed() => if changed.is_err() { return }, // the daemon is stopping
        }
        let state = *trust.borrow_and_update();
        apply(&store, clock.as_ref(), state).await;
    }
}
