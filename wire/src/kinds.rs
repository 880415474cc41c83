//! The codes of the audit stream that both sides put in words: every record kind a
//! gateway writes (`docs/audit.md`; the gateway takes its kinds' codes from here) and
//! every reason it refuses an entry for (its reasons are tested against this list).
//! Central's catalogue has words for each in Swedish and English (its test reads them),
//! so a new kind or reason cannot reach an operator as a bare code.

/// Every record kind (`kind`).
pub const EVENT_KINDS: [&str; 32] = [
    "door.opened",
    "door.forced_open",
    "door.closed",
    "door.held_open",
    "door.contact_fault",
    "device.health",
    "credentials.accepted",
    "credentials.refused",
    "credentials.expiring",
    "access.granted",
    "access.denied",
    "access.strike_failed",
    "door.strike_corrected",
    "door.free_passage",
    "keypad.locked_out",
    "store.gap",
    "store.alarm",
    "system.start",
    "system.device_key",
    "system.chain_epoch",
    "system.stop",
    "door.pulsed",
    "clock.trust",
    "config.reloaded",
    "config.refused",
    "door.mode",
    "uplink.refused",
    "audit.queried",
    "audit.erased",
    "audit.checkpoint",
    "ble.refused",
    "ble.adapter",
];

/// Every reason an `access.denied` record gives (`detail.reason`).
pub const DENY_REASONS: [&str; 14] = [
    "unknown_door",
    "unknown_credential",
    "revoked",
    "not_valid_yet",
    "expired",
    "door_not_in_scope",
    "role_not_allowed",
    "outside_schedule",
    "lockdown",
    "keypad_locked_out",
    "no_booking",
    "untrusted_clock",
    "door_code_not_for_this_door",
    "stale_entry",
];

/// Every reason a gateway gives for an untrusted clock (`clock.reason` in `state`).
pub const CLOCK_REASONS: [&str; 3] = ["not_synchronized", "before_floor", "jumped"];
