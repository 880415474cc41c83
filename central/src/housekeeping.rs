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
use crate::db::{self, DbError};
use crate::fleet;
use crate::retention::{self, Retention};

/// How often the fleet's alarms are reconciled for every known site.
pub const SWEEP: Duration = Duration::from_secs(30);

/// Sweeps and erases until `stop` resolves (a sweep under way is left where it is: the
/// next one, by whichever collector, completes it).
pub async fn run(url: &str, retention: Retention, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let rules = Rules::default();
    let mut sweep = tokio::time::interval(SWEEP);
    let mut erase = tokio::time::interval(retention::EVERY);
    let (mut sweep_due, mut erase_due) = (false, false);
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = sweep.tick() => sweep_due = true,
            _ = erase.tick() => erase_due = true,
        }
        if client.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            client = match db::connect(url).await {
                Ok(c) => Some(c),
                Err(e) => {
                    log::warn!("housekeeping (alarm sweep, retention): {e}; trying again in {} s", SWEEP.as_secs());
                    None
                }
            };
        }
        let Some(db) = &client else { continue };
        let work = async {
            if sweep_due {
                fleet::sweep(db, jiff::Timestamp::now(), &rules).await.map_err(|e| ("the alarm sweep", e))?;
                sweep_due = false;
            }
            if erase_due {
                retention::erase(db, &retention, jiff::Timestamp::now()).await.map_err(|e| ("retention", e))?;
                erase_due = false;
            }
            Ok::<_, (&str, DbError)>(())
        };
        let done = tokio::select! {
            () = &mut stop => return,
            r = work => r,
        };
        match done {
            Ok(()) => {}
            Err((what, e)) => {
                log::warn!("{what}: {e}; again in {} s", SWEEP.as_secs());
                if e.is_connection_lost() {
                    client = None;
                }
            }
        }
    }
}
