//! A collector's work beside ingest, on a PostgreSQL connection of its own so that records
//! never wait for it: every [`SWEEP`] the fleet's alarms are reconciled for every known
//! site (a gateway gone silent sends nothing that would), and every
//! [`crate::retention::EVERY`] the personal parts past their class's period are erased.
//! A sweep of a thousand sites is thousands of short statements (seconds on a busy
//! machine); done between batches, as it once was, it held back every record delivered
//! meanwhile. A lost database is connected to again at the next tick, and what failed
//! is done then.

use std::future::Future;
use std::time::Duration;

use crate::alarms::Rules;
use crate::db;
use crate::fleet;
use crate::retention::{self, Retention};

/// How often the fleet's alarms are reconciled for every known site.
pub const SWEEP: Duration = Duration::from_secs(30);

/// Sweeps and erases until `stop` resolves (a sweep under way is left where it is: the
/// next one, by whichever collector, completes it).
pub async fn run(url: &str, retention: Retention, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let rules = Rules::default();
    // A sweep longer than its period is followed by the next one a period later, not at once.
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut erase = tokio::time::interval(retention::EVERY);
    erase.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut sweep_due, mut erase_due) = (false, false);
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = sweep.tick() => sweep_due = true,
            _ = erase.tick() => erase_due = true,
        }
        if client.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            let connected = tokio::select! {
                () = &mut stop => return,
                c = db::connect(url) => c,
            };
            client = match connected {
                Ok(c) => Some(c),
                Err(e) => {
                    log::warn!("housekeeping (alarm sweep, retention): {e}; trying again in {} s", SWEEP.as_secs());
                    None
                }
            };
        }
        let Some(db) = client.as_mut() else { continue };
        // Each on its own: a sweep that fails does not hold back the erasure.
        let work = async {
            let mut lost = false;
            if sweep_due {
                match fleet::sweep(db, jiff::Timestamp::now(), &rules).await {
                    Ok(()) => sweep_due = false,
                    Err(e) => {
                        log::warn!("the alarm sweep: {e}; again in {} s", SWEEP.as_secs());
                        lost |= e.is_connection_lost();
                    }
                }
            }
            if erase_due {
                match retention::erase(db, &retention, jiff::Timestamp::now()).await {
                    Ok(_) => erase_due = false,
                    Err(e) => {
                        log::warn!("retention: {e}; again in {} s", SWEEP.as_secs());
                        lost |= e.is_connection_lost();
                    }
                }
            }
            lost
        };
        let lost = tokio::select! {
            () = &mut stop => return,
            lost = work => lost,
        };
        if lost {
            client = None;
        }
    }
}
