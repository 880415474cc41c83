//! Panels that are alive, entries that are fresh, over real Modbus TCP against the
//! simulated building: a panel whose heartbeat freezes is offline (audited, its door
//! marked); an entry that waited at the panel past `max_entry_age` is acknowledged and
//! refused as `stale_entry` without releasing the strike; a panel of the first keypad map
//! (no entry age) still works, its entries taken as fresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::building::{audited, eventually, rt, site, until};
use portvakt::gateway::handle::PanelState;
use portvakt::modbus::keypad::Entered;
use portvakt::modbus::sim::Fault;
use portvakt::store::EventKind;

#[test]
fn a_panel_whose_heartbeat_freezes_is_offline_within_five_seconds_and_its_door_says_so() {
    rt().block_on(async {
        let s = site().await;
        eventually("the panel online", Duration::from_secs(5), || async {
            s.door("entrance").await.panel == Some(PanelState::Online)
        })
        .await;
        s.sim.set_fault(1, Some(Fault::FrozenHeartbeat));
        eventually("the panel offline", Duration::from_secs(5), || async {
            s.door("entrance").await.panel == Some(PanelState::Offline)
        })
        .await;
        let health = s.records(EventKind::DeviceHealth).await;
        let offline = health.iter().find(|r| r.record.event.detail.contains("\"online\":false")).expect("audited");
        assert!(offline.record.event.detail.contains("heartbeat frozen"), "{}", offline.record.event.detail);
        // An entry at a hung panel is not acted on.
        s.sim.enter(1, Entered::Digits("1357".into()));
        // Two more requests to the panel: the first reads the entry, the second is the next
        // poll (or the entry's acknowledgement, had the bus taken it): the bus asks one thing
        // at a time, so by then it has judged what the first brought.
        let asked = s.sim.requests_to(1);
        eventually("two more requests to the panel", Duration::from_secs(15), || async {
            s.sim.requests_to(1) >= asked + 2
        })
        .await;
        assert_eq!(s.sim.queued(1), 1, "the hung panel's entry was not taken (never acknowledged)");
        assert!(s.records(EventKind::AccessGranted).await.is_empty(), "a hung panel's entry opened the door");
        assert_eq!(s.sim.relay(2, 1), Some(false), "the strike stayed locked");
        s.sim.set_fault(1, None);
        eventually("the panel back", Duration::from_secs(35), || async {
            s.door("entrance").await.panel == Some(PanelState::Online)
        })
        .await;
    });
}

#[test]
fn an_entry_that_waited_twenty_seconds_is_acknowledged_and_refused_as_stale() {
    rt().block_on(async {
        let s = site().await;
        until("the strike locked at start", || s.sim.relay(2, 1) == Some(false)).await;
        s.sim.enter_earlier(1, Entered::Digits("1357".into()), Duration::from_secs(20));
        audited(&s.store, EventKind::AccessDenied).await;
        let denied = s.records(EventKind::AccessDenied).await;
        assert!(
            denied[0].record.event.detail.contains("\"reason\":\"stale_entry\""),
            "{}",
            denied[0].record.event.detail
        );
        assert!(denied[0].record.event.detail.contains("\"age_secs\":20"), "{}", denied[0].record.event.detail);
        assert_eq!(s.sim.queued(1), 0, "the stale entry was acknowledged");
        let entrance: Vec<_> = s.sim.relay_writes().into_iter().filter(|(_, c, on)| *c == 1 && *on).collect();
        assert!(entrance.is_empty(), "the strike was released for a stale entry: {entrance:?}");
        // A fresh entry still opens.
        s.sim.enter(1, Entered::Digits("1357".into()));
        until("released for the fresh entry", || s.sim.relay(2, 1) == Some(true)).await;
    });
}

#[test]
fn a_panel_of_the_first_keypad_map_still_works_but_cannot_have_stale_entries_refused() {
    rt().block_on(async {
        let s = site().await;
        s.sim.use_first_keypad_map(1);
        s.sim.enter_earlier(1, Entered::Digits("1357".into()), Duration::from_secs(20));
        until("released: the first map carries no age", || s.sim.relay(2, 1) == Some(true)).await;
        audited(&s.store, EventKind::AccessGranted).await;
    });
}
