//! Closed-loop strikes, over real Modbus TCP against the simulated building: what the
//! gateway reports about a strike is what the relay board confirmed or read back; a
//! board that restarted, lost a write or had a coil changed behind the gateway's back is
//! put right and the episode audited; a release the board does not confirm is not a
//! plain grant and does not show green.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::building::{audited, eventually, rt, site, until};
use portvakt::gateway::handle::LockState;
use portvakt::modbus::bus::RELAY_POLL;
use portvakt::modbus::keypad::Entered;
use portvakt::modbus::sim::Fault;
use portvakt::store::{EventKind, StoredRecord};

/// Two relay polls, and a little for the round trips.
const TWO_POLLS: Duration = RELAY_POLL.saturating_mul(2).saturating_add(Duration::from_millis(300));
const A_WHILE: Duration = Duration::from_secs(5);

async fn within_two_relay_polls(what: &str, cond: impl Fn() -> bool) {
    eventually(what, TWO_POLLS, || std::future::ready(cond())).await;
}

/// Waits until the relay board has reported the entrance's strike locked (at start).
async fn entrance_read_back_locked(s: &common::building::Site) {
    eventually("the entrance read back locked", A_WHILE, || async {
        s.door("entrance").await.lock == LockState::Locked
    })
    .await;
}

fn on_door(records: &[StoredRecord], door: &str) -> usize {
    records.iter().filter(|r| r.record.event.door.as_deref() == Some(door)).count()
}

#[test]
fn a_relay_board_that_restarts_with_every_coil_off_gets_the_fail_safe_strike_locked_again() {
    rt().block_on(async {
        let s = site().await;
        // The laundry strike is fail-safe: locked means energised.
        until("the laundry locked at start", || s.sim.relay(2, 3) == Some(true)).await;
        eventually("the board's read-back", A_WHILE, || async { s.door("laundry").await.lock == LockState::Locked })
            .await;
        s.sim.restart(2);
        assert_eq!(s.sim.relay(2, 3), Some(false), "the restart released the laundry");
        within_two_relay_polls("the laundry strike energised again", || s.sim.relay(2, 3) == Some(true)).await;
        audited(&s.store, EventKind::DoorStrikeCorrected).await;
        let corrected = s.records(EventKind::DoorStrikeCorrected).await;
        let laundry: Vec<_> = corrected.iter().filter(|r| r.record.event.door.as_deref() == Some("laundry")).collect();
        assert_eq!(laundry.len(), 1, "one episode, one record: {corrected:?}");
        let detail: serde_json::Value = serde_json::from_str(&laundry[0].record.event.detail).unwrap();
        assert_eq!((detail["found"].as_str(), detail["wanted"].as_str()), (Some("released"), Some("locked")));
        eventually("the laundry reported locked and without fault", A_WHILE, || async {
            let d = s.door("laundry").await;
            d.lock == LockState::Locked && !d.strike_fault
        })
        .await;
    });
}

#[test]
fn a_coil_that_stays_wrong_is_reported_as_read_and_audited_once_per_episode() {
    rt().block_on(async {
        let s = site().await;
        entrance_read_back_locked(&s).await;
        // Someone energises the entrance coil, and the board loses the writes that would undo it.
        s.sim.set_fault(2, Some(Fault::LosesWrites));
        s.sim.set_relay(2, 1, true);
        eventually("the read-back reports the entrance released, a fault", TWO_POLLS, || async {
            let d = s.door("entrance").await;
            d.lock == LockState::Released && d.strike_fault
        })
        .await;
        // Three more reads of the board, each found wrong and written again (a read and a
        // write each): still one episode.
        let asked = s.sim.requests_to(2);
        eventually("three more reads of the relay board", A_WHILE, || async { s.sim.requests_to(2) >= asked + 6 })
            .await;
        assert_eq!(on_door(&s.records(EventKind::DoorStrikeCorrected).await, "entrance"), 1, "one episode, one record");
        s.sim.set_fault(2, None);
        within_two_relay_polls("the entrance coil put back", || s.sim.relay(2, 1) == Some(false)).await;
        eventually("no fault once the board holds it", TWO_POLLS, || async { !s.door("entrance").await.strike_fault })
            .await;
        // A new episode is a new record.
        s.sim.set_relay(2, 1, true);
        within_two_relay_polls("put back again", || s.sim.relay(2, 1) == Some(false)).await;
        eventually("a second record", A_WHILE, || async {
            on_door(&s.records(EventKind::DoorStrikeCorrected).await, "entrance") == 2
        })
        .await;
    });
}

#[test]
fn a_release_the_silent_relay_board_does_not_confirm_shows_the_fault_and_is_not_a_plain_grant() {
    rt().block_on(async {
        let s = site().await;
        entrance_read_back_locked(&s).await;
        s.sim.set_fault(2, Some(Fault::Silent));
        s.sim.enter(1, Entered::Digits("1357".into()));
        until("the fault on the panel", || s.sim.feedback(1).contains(&(4, 30))).await;
        assert!(!s.sim.feedback(1).contains(&(1, 30)), "never green: {:?}", s.sim.feedback(1));
        audited(&s.store, EventKind::AccessStrikeFailed).await;
        assert!(s.records(EventKind::AccessGranted).await.is_empty(), "no plain grant is recorded");
        let failed = s.records(EventKind::AccessStrikeFailed).await;
        let detail: serde_json::Value = serde_json::from_str(&failed[0].record.event.detail).unwrap();
        assert!(detail["strike"].as_str().is_some_and(|w| w.contains("no")), "{detail}");
        assert_eq!(s.door("entrance").await.lock, LockState::Unknown);
        // The board answers again: the strike it should hold (locked after the pulse) is read back.
        s.sim.set_fault(2, None);
        s.clock.advance(jiff::SignedDuration::from_secs(6));
        eventually("the entrance read back locked again", A_WHILE, || async {
            s.door("entrance").await.lock == LockState::Locked
        })
        .await;
    });
}

#[test]
fn a_board_that_acknowledges_a_release_but_loses_it_is_caught_by_the_read_back() {
    rt().block_on(async {
        let s = site().await;
        entrance_read_back_locked(&s).await;
        s.sim.set_fault(2, Some(Fault::LosesWrites));
        s.sim.enter(1, Entered::Digits("1357".into()));
        until("the grant", || !s.sim.feedback(1).is_empty()).await;
        eventually("the read-back shows the strike did not move", TWO_POLLS, || async {
            let d = s.door("entrance").await;
            d.lock == LockState::Locked && d.strike_fault
        })
        .await;
    });
}

#[test]
fn while_the_store_is_stalled_the_strike_relocks_on_time_and_entries_are_served_and_nothing_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    rt().block_on(async {
        let s = site().await;
        entrance_read_back_locked(&s).await;
        // The store's thread is busy (a slow disk, a long job before the appends) until the
        // test has seen the doors served without it.
        let over = Arc::new(AtomicBool::new(false));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (resume, stall) = std::sync::mpsc::channel::<()>();
        let flag = over.clone();
        let store = s.store.clone();
        tokio::spawn(async move {
            let stalled = store.call(move |_| {
                let _ = started_tx.send(());
                let _ = stall.recv_timeout(Duration::from_secs(30));
                flag.store(true, Ordering::SeqCst);
                Ok(())
            });
            stalled.await.unwrap();
        });
        started.await.unwrap();
        let stalled = || !over.load(Ordering::SeqCst);

        s.sim.enter(1, Entered::Digits("1357".into()));
        until("the strike released", || s.sim.relay(2, 1) == Some(true)).await;
        until("green on the panel", || s.sim.feedback(1).contains(&(1, 30))).await;
        s.clock.advance(jiff::SignedDuration::from_secs(6));
        until("the strike relocked when its pulse ended", || s.sim.relay(2, 1) == Some(false)).await;
        assert!(stalled(), "the strike relocked only after the store came back");
        s.sim.enter(1, Entered::Digits("0000".into()));
        until("the next entry served (red)", || s.sim.feedback(1).contains(&(2, 30))).await;
        assert!(stalled(), "the next entry waited for the store");
        resume.send(()).unwrap();

        // Once the store is back, every record is there, in order.
        audited(&s.store, EventKind::AccessDenied).await;
        let kinds: Vec<EventKind> = s
            .store
            .query(portvakt::store::AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.record.event.kind)
            .filter(|k| matches!(k, EventKind::AccessGranted | EventKind::AccessDenied))
            .collect();
        assert_eq!(kinds, vec![EventKind::AccessGranted, EventKind::AccessDenied]);
    });
}

#[test]
fn a_door_that_opens_while_its_board_reports_the_strike_locked_is_recorded_as_forced() {
    rt().block_on(async {
        let s = site().await;
        entrance_read_back_locked(&s).await;
        // The board acknowledges the release but loses it; the read-back shows it locked.
        s.sim.set_fault(2, Some(Fault::LosesWrites));
        s.sim.enter(1, Entered::Digits("1357".into()));
        eventually("the read-back shows the strike locked", TWO_POLLS, || async {
            let d = s.door("entrance").await;
            d.lock == LockState::Locked && d.strike_fault
        })
        .await;
        s.sim.set_input(3, 1, true); // the door is pushed open anyway
        audited(&s.store, EventKind::DoorForcedOpen).await;
        assert!(s.records(EventKind::DoorOpened).await.is_empty(), "not an ordinary opening");
        let forced = s.records(EventKind::DoorForcedOpen).await;
        assert!(forced[0].record.event.detail.contains("relay board reports"), "{}", forced[0].record.event.detail);
    });
}
