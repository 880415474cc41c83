//! What the daemon restores from the store at start: the core's inputs (or none, when
//! the stored bundles no longer fit the configuration), the door modes whose seal is the
//! gateway's (any other row, damaged ones included, is refused, audited and removed),
//! lockouts (a damaged row is dropped, audited and removed).

use jiff::Timestamp;

use crate::config::Config;
use crate::core::allowlist::{Allowlist, Revocations};
use crate::core::booking::Bookings;
use crate::core::clock::ClockState;
use crate::core::decide::AccessState;
use crate::core::lockout::KeypadLockout;
use crate::core::model::{DoorIdx, DoorMode};
use crate::core::secret::CredentialKey;
use crate::credentials::registry::Built;
use crate::store::state::{DoorModeRow, LockoutRow};
use crate::store::{EventKind, NewEvent, StoreError};

/// The core's inputs restored from the store, or none (the config's policy) when they
/// cannot be built with this configuration.
pub fn usable_or_empty(cfg: &Config, built: Result<Built, Vec<String>>) -> Built {
    built.unwrap_or_else(|problems| {
        for p in &problems {
            log::error!("stored bundles cannot be used with this configuration: {p}");
        }
        Built {
            policy: cfg.policy.clone(),
            allowlist: Allowlist::default(),
            revocations: Revocations::default(),
            bookings: Bookings::default(),
        }
    })
}

/// The core's state from built inputs and what the store kept of lockouts and modes.
pub fn access_state(
    cfg: &Config,
    built: Built,
    lockouts: &[LockoutRow],
    modes: &[(String, DoorMode)],
    clock: ClockState,
) -> AccessState {
    let index = |door: &str| door.parse().ok().and_then(|d| cfg.policy.door_index(&d));
    let mut door_modes = vec![DoorMode::Normal; cfg.policy.doors.len()];
    for (door, mode) in modes {
        if let Some(DoorIdx(i)) = index(door)
            && let Some(m) = door_modes.get_mut(usize::from(i))
        {
            *m = *mode;
        }
    }
    let lockout =
        KeypadLockout::restore(lockouts.iter().filter_map(|r| index(&r.door).map(|d| (d, r.locked_until, r.streak))));
    AccessState {
        allowlist: built.allowlist,
        revocations: built.revocations,
        bookings: built.bookings,
        modes: door_modes,
        lockout,
        clock: clock.trust,
        clock_floor: Some(clock.floor),
    }
}

/// The stored door modes whose seal is the gateway's; any other row is refused,
/// audited (`door.mode` back to `normal`, with what was refused) and removed.
pub async fn sealed_modes(
    store: &crate::store::Handle,
    key: &CredentialKey,
    rows: Vec<DoorModeRow>,
    trusted: bool,
) -> Result<Vec<(String, DoorMode)>, StoreError> {
    let mut modes = Vec::new();
    for row in rows {
        match row.verified(key) {
            Ok(mode) => modes.push((row.door, mode)),
            Err(why) => {
                log::error!("door {}: stored mode {} refused: {why}", row.door, row.word);
                let detail = serde_json::json!({
                    "mode": DoorMode::Normal, "by": "start", "refused": { "mode": row.word, "why": why }
                });
                let record = NewEvent::system(
                    EventKind::DoorModeChanged,
                    Timestamp::now(),
                    trusted,
                    (!row.door.is_empty()).then(|| row.door.clone()),
                    &detail,
                );
                store.append(record).await?;
                let door = row.door.clone();
                store.call(move |s| s.clear_door_mode(&door)).await?;
            }
        }
    }
    Ok(modes)
}

/// Lockout rows the store could not read: each is logged, audited (`store.alarm`,
/// `damaged_row`) and removed; the keypad starts without it.
pub async fn drop_damaged_lockouts(
    store: &crate::store::Handle,
    damaged: Vec<String>,
    trusted: bool,
) -> Result<(), StoreError> {
    if damaged.is_empty() {
        return Ok(());
    }
    for why in &damaged {
        log::error!("a stored keypad lockout is damaged and not used: {why}");
        let detail =
            serde_json::json!({ "alarm": "damaged_row", "table": "lockouts", "why": why, "action": "dropped" });
        store.append(NewEvent::system(EventKind::StoreAlarm, Timestamp::now(), trusted, None, &detail)).await?;
    }
    store.call(|s| s.forget_damaged_lockouts()).await?;
    Ok(())
}
