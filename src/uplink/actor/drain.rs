//! The uplink's outbox drain: records queued into the in-flight window in sequence order,
//! a collector's silence answered by publishing again from the oldest unconfirmed record,
//! and confirmations written to the store in batches.

use std::time::Instant;

use jiff::Timestamp;

use super::{Conn, RESEND_AFTER, Uplink, send_slot};
use crate::config::ConfirmOn;
use crate::uplink::payload;
use crate::uplink::window::Slot;

impl Uplink {
    /// Queues outbox records after the window's position until the window is full.
    pub(super) async fn fill(&self, conn: &mut Conn) {
        loop {
            let head = *conn.head.borrow_and_update();
            let room = conn.window.room();
            if room == 0 || head <= conn.window.next_after() {
                return;
            }
            let limit = u32::try_from(room).unwrap_or(u32::MAX);
            let outbox = match self.reach.store.outbox(conn.window.next_after(), limit).await {
                Ok(r) => r,
                Err(e) => {
                    log::error!("uplink: the outbox cannot be read: {e}");
                    return;
                }
            };
            if outbox.records.is_empty() {
                // Everything up to `head` is confirmed already.
                conn.window.skip_to(head);
                return;
            }
            let cfg = self.cfg();
            let sealing = payload::Sealing { site: cfg.site.id.as_str(), authorities: &cfg.authorities };
            for r in &outbox.records {
                let message = payload::event(r, outbox.epoch.as_ref(), &sealing);
                if !send_slot(conn, &conn.topics.events(), false, message, Slot::Event(r.seq)) {
                    return;
                }
            }
        }
    }

    /// Collector acknowledgement only: when the oldest unconfirmed record was published
    /// [`RESEND_AFTER`] ago and is still not confirmed, the drain starts again from it.
    pub(super) async fn resend_unacknowledged(&self, conn: &mut Conn) {
        if conn.up.confirm != ConfirmOn::Collector {
            return;
        }
        let oldest = match self.reach.store.outbox(0, 1).await {
            Ok(o) => o.records.first().map(|r| r.seq),
            Err(_) => return,
        };
        conn.waiting = match (oldest, conn.waiting) {
            (Some(seq), Some((w, since))) if seq == w && seq <= conn.window.next_after() => {
                if since.elapsed() < RESEND_AFTER {
                    return;
                }
                log::info!("uplink: the collector has not confirmed record {seq}; publishing from it again");
                conn.window.rewind(seq - 1);
                self.fill(conn).await;
                Some((seq, Instant::now()))
            }
            (Some(seq), _) if seq <= conn.window.next_after() => Some((seq, Instant::now())),
            _ => None,
        };
    }

    /// Writes the batched confirmations (on the store's thread, not waited for: the
    /// connection keeps flowing) and reports the acknowledged count.
    pub(super) fn flush_confirms(&self, conn: &mut Conn) {
        if conn.acked > 0 {
            let acked = std::mem::take(&mut conn.acked);
            self.set_status(|s| s.published += acked);
        }
        if conn.confirms.is_empty() {
            return;
        }
        let seqs = std::mem::take(&mut conn.confirms);
        let store = self.reach.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.confirm(seqs, Timestamp::now()).await {
                // They stay in the outbox and are published again: duplicates, never a loss.
                log::error!("uplink: confirmations not stored: {e}");
            }
        });
    }
}
