//! Which alarms a site should have open now, from what Central knows of it: its retained
//! `status` and `state`, its doors' states, a forced door not yet closed, its chain as
//! stored. Pure (`now` is an argument); `fleet` keeps the alarm rows in step with it,
//! raising what is new and clearing what no longer holds.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// What Central knows of one site.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Its retained `status`: `Some(false)` after `offline` (its will, or an orderly stop).
    pub online: Option<bool>,
    /// When anything of it was last heard.
    pub last_seen: Option<Timestamp>,
    /// Its last `state`.
    pub state: Option<Value>,
    /// Its doors.
    pub doors: Vec<DoorFacts>,
    /// The first stored record that does not link.
    pub broken_at: Option<u64>,
    /// Records stored beyond a hole: the gap-free point, and when the first record past
    /// the hole arrived.
    pub gap: Option<(u64, Timestamp)>,
    /// The newest signed checkpoint that did not hold: its record, the record it covers,
    /// and what was found (`anchors::Outcome::word`).
    pub checkpoint_failed: Option<(u64, Option<u64>, String)>,
    /// Its current run of the chain replaced an earlier one (a box swapped, a card
    /// reflashed, a store restored from a backup): the run, and when it began.
    pub replaced: Option<(String, Timestamp)>,
    /// Messages of its quarantined (not stored: see `boundary`) and not yet reviewed: how
    /// many, and the newest one's reason.
    pub quarantined: Option<(u64, String)>,
}

/// One door.
#[derive(Debug, Clone, Default)]
pub struct DoorFacts {
    /// Its id.
    pub door: String,
    /// Its last `door/<door>/state`.
    pub state: Option<Value>,
    /// A `door.forced_open` not yet followed by `door.closed`.
    pub forced_at: Option<Timestamp>,
}

/// The thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A gateway heard from for no longer than this is offline (its `state` comes every
    /// `state_interval`, 60 s by default).
    pub silent_after: SignedDuration,
    /// An outbox deeper than this is growing.
    pub outbox_depth: u64,
    /// Or whose oldest record waits longer than this.
    pub outbox_age: SignedDuration,
    /// A hole in the stored chain open longer than this is unfilled.
    pub gap_after: SignedDuration,
    /// A new run of a site's chain is shown this long.
    pub restarted_for: SignedDuration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            silent_after: SignedDuration::from_mins(5),
            outbox_depth: 100,
            outbox_age: SignedDuration::from_mins(15),
            gap_after: SignedDuration::from_mins(5),
            restarted_for: SignedDuration::from_hours(24),
        }
    }
}

/// An alarm that should be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// What it is about within the site: a door, a device, an authority ('' for the site).
    pub subject: String,
    /// What was found, as facts (put in words in each language by the console's
    /// catalogue; kept in `alarms.detail` as JSON).
    pub detail: Detail,
}

/// What an alarm found, as facts without words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum Detail {
    /// The broker says the gateway is offline (its will, or an orderly stop).
    BrokerSaysOffline,
    /// Nothing heard for this many minutes.
    Silent {
        /// Minutes.
        minutes: i64,
    },
    /// The gateway's clock is not trusted, and its reason (`not_synchronized`, …).
    ClockUntrusted {
        /// The gateway's reason code.
        reason: String,
    },
    /// Records waiting at the gateway.
    OutboxGrowing {
        /// How many.
        waiting: u64,
        /// The oldest's wait in minutes.
        oldest_minutes: i64,
    },
    /// The gateway's store is over 90 % full.
    StoreNearlyFull,
    /// A device does not answer on its bus.
    DeviceSilent,
    /// A door's keypad panel is silent or its heartbeat frozen.
    PanelSilent,
    /// An authority's bundle has ended.
    BundleEnded,
    /// An authority's bundle ends within this many hours.
    BundleEnding {
        /// Hours left.
        hours: i64,
    },
    /// An authority's bundle is this many days old.
    BundleOld {
        /// Its age.
        days: i64,
    },
    /// The door opened while locked and has not closed since.
    ForcedOpen,
    /// The door stands open past its limit.
    HeldOpen,
    /// The relay board does not hold the strike as the gateway wants it.
    StrikeNotHeld,
    /// A stored record does not link to the one before it.
    ChainBroken {
        /// The record.
        seq: u64,
    },
    /// A signed checkpoint did not hold.
    CheckpointFailed {
        /// The checkpoint's own record.
        seq: u64,
        /// The record it covers, if it could be read.
        covers: Option<u64>,
        /// What was found (`anchors::Outcome::word`).
        outcome: String,
    },
    /// Records past a hole are stored; the one after `through` is missing.
    RecordsMissing {
        /// The gap-free point.
        through: u64,
    },
    /// A new run of the chain began (box replaced, card reflashed, store restored).
    RunRestarted {
        /// The run's first 8 characters.
        run: String,
        /// When it began.
        since: Timestamp,
    },
    /// Messages quarantined and not yet reviewed.
    Quarantined {
        /// How many.
        messages: u64,
        /// The newest one's reason (Central's own, technical).
        newest: String,
    },
}

impl Detail {
    /// As kept in `alarms.detail`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From `alarms.detail` (`None`: text from before details were kept as facts).
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// How long after a gateway's start its devices' health is not yet judged.
const STARTING_SECS: u64 = 30;

/// Every alarm kind.
pub const KINDS: [&str; 16] = [
    "gateway_offline",
    "clock_untrusted",
    "outbox_growing",
    "store_nearly_full",
    "device_offline",
    "bundle_stale",
    "bundle_expiring",
    "bundle_expired",
    "door_forced_open",
    "door_held_open",
    "strike_fault",
    "chain_broken",
    "gap_unfilled",
    "checkpoint_invalid",
    "records_quarantined",
    "chain_restarted",
];

fn want(kind: &'static str, subject: impl Into<String>, detail: Detail) -> Wanted {
    debug_assert!(KINDS.contains(&kind), "{kind} is not in KINDS: the console has no words for it");
    Wanted { kind, subject: subject.into(), detail }
}

fn minutes(d: SignedDuration) -> i64 {
    d.as_secs() / 60
}

/// The alarms `f` calls for at `now`.
pub fn wanted(f: &Facts, now: Timestamp, r: &Rules) -> Vec<Wanted> {
    let mut out = Vec::new();
    match (f.online, f.last_seen) {
        (Some(false), _) => {
            out.push(want("gateway_offline", "", Detail::BrokerSaysOffline));
        }
        (_, Some(seen)) if now.duration_since(seen) > r.silent_after => {
            out.push(want("gateway_offline", "", Detail::Silent { minutes: minutes(now.duration_since(seen)) }));
        }
        _ => {}
    }
    if let Some(s) = &f.state {
        state_alarms(s, r, &mut out);
    }
    for d in &f.doors {
        if d.forced_at.is_some() {
            out.push(want("door_forced_open", &d.door, Detail::ForcedOpen));
        }
        let Some(s) = &d.state else { continue };
        if s.get("alarm").and_then(Value::as_str) == Some("held_open") {
            out.push(want("door_held_open", &d.door, Detail::HeldOpen));
        }
        if s.get("strike_fault").and_then(Value::as_bool) == Some(true) {
            out.push(want("strike_fault", &d.door, Detail::StrikeNotHeld));
        }
        if s.get("panel").and_then(Value::as_str) == Some("offline") {
            out.push(want("device_offline", format!("{} panel", d.door), Detail::PanelSilent));
        }
    }
    if let Some(at) = f.broken_at {
        out.push(want("chain_broken", "", Detail::ChainBroken { seq: at }));
    }
    if let Some((seq, covers, outcome)) = &f.checkpoint_failed {
        out.push(want(
            "checkpoint_invalid",
            "",
            Detail::CheckpointFailed { seq: *seq, covers: *covers, outcome: outcome.clone() },
        ));
    }
    if let Some((through, since)) = f.gap
        && now.duration_since(since) > r.gap_after
    {
        out.push(want("gap_unfilled", "", Detail::RecordsMissing { through }));
    }
    if let Some((epoch, since)) = &f.replaced
        && now.duration_since(*since) < r.restarted_for
    {
        let run = epoch.chars().take(8).collect();
        out.push(want("chain_restarted", "", Detail::RunRestarted { run, since: *since }));
    }
    if let Some((n, why)) = &f.quarantined {
        out.push(want("records_quarantined", "", Detail::Quarantined { messages: *n, newest: why.clone() }));
    }
    out
}

fn state_alarms(s: &Value, r: &Rules, out: &mut Vec<Wanted>) {
    if s.pointer("/clock/trust").and_then(Value::as_str) == Some("untrusted") {
        let reason = s.pointer("/clock/reason").and_then(Value::as_str).unwrap_or("").chars().take(64).collect();
        out.push(want("clock_untrusted", "", Detail::ClockUntrusted { reason }));
    }
    let depth = s.get("outbox_depth").and_then(Value::as_u64).unwrap_or(0);
    let oldest = s.get("outbox_oldest_secs").and_then(Value::as_i64).unwrap_or(0);
    if depth > r.outbox_depth || oldest > r.outbox_age.as_secs() {
        out.push(want("outbox_growing", "", Detail::OutboxGrowing { waiting: depth, oldest_minutes: oldest / 60 }));
    }
    if s.get("store_nearly_full").and_then(Value::as_bool) == Some(true) {
        out.push(want("store_nearly_full", "", Detail::StoreNearlyFull));
    }
    // Just after a start the gateway has not polled every device yet: not an outage.
    let starting = s.get("uptime_secs").and_then(Value::as_u64).is_some_and(|u| u < STARTING_SECS);
    for bus in s.get("buses").and_then(Value::as_array).into_iter().flatten().filter(|_| !starting) {
        let name = bus.get("name").and_then(Value::as_str).unwrap_or("?");
        for (unit, dev) in bus.get("devices").and_then(Value::as_object).into_iter().flatten() {
            if dev.get("online").and_then(Value::as_bool) == Some(false) {
                out.push(want("device_offline", format!("{name} unit {unit}"), Detail::DeviceSilent));
            }
        }
    }
    for b in s.get("bundles").and_then(Value::as_array).into_iter().flatten() {
        let who = b.get("authority").and_then(Value::as_str).unwrap_or("?");
        let flag = |k: &str| b.get(k).and_then(Value::as_bool) == Some(true);
        let hours = b.get("expires_in_hours").and_then(Value::as_i64).unwrap_or(0);
        if flag("expired") {
            out.push(want("bundle_expired", who, Detail::BundleEnded));
        } else if flag("expiring") {
            out.push(want("bundle_expiring", who, Detail::BundleEnding { hours }));
        }
        if flag("stale") {
            let days = b.get("age_days").and_then(Value::as_i64).unwrap_or(0);
            out.push(want("bundle_stale", who, Detail::BundleOld { days }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn kinds(w: &[Wanted]) -> Vec<(&str, &str)> {
        w.iter().map(|w| (w.kind, w.subject.as_str())).collect()
    }

    #[test]
    fn a_healthy_gateway_heard_a_minute_ago_has_no_alarm() {
        let f = Facts {
            online: Some(true),
            last_seen: Some(at("2026-12-03T12:00:00Z")),
            state: Some(
                serde_json::json!({"clock":{"trust":"trusted"},"outbox_depth":0,"buses":[{"name":"rs485","devices":{"1":{"online":true}}}],"bundles":[{"authority":"owner","stale":false,"expiring":false,"expired":false}]}),
            ),
            doors: vec![DoorFacts {
                door: "entrance".into(),
                state: Some(serde_json::json!({"alarm":null,"strike_fault":false,"panel":"online"})),
                forced_at: None,
            }],
            ..Facts::default()
        };
        assert!(wanted(&f, at("2026-12-03T12:01:00Z"), &Rules::default()).is_empty());
    }

    #[test]
    fn offline_by_its_will_or_by_silence_is_one_gateway_offline_alarm() {
        let f = Facts { online: Some(false), last_seen: Some(at("2026-12-03T12:00:00Z")), ..Facts::default() };
        assert_eq!(kinds(&wanted(&f, at("2026-12-03T12:00:01Z"), &Rules::default())), [("gateway_offline", "")]);
        let f = Facts { online: Some(true), last_seen: Some(at("2026-12-03T12:00:00Z")), ..Facts::default() };
        assert!(wanted(&f, at("2026-12-03T12:04:00Z"), &Rules::default()).is_empty());
        let w = wanted(&f, at("2026-12-03T12:06:00Z"), &Rules::default());
        assert_eq!(w[0].detail, Detail::Silent { minutes: 6 });
    }

    #[test]
    fn each_problem_of_the_state_and_doors_is_its_own_alarm() {
        let f = Facts {
            online: Some(true),
            last_seen: Some(at("2026-12-03T12:00:00Z")),
            state: Some(serde_json::json!({
                "clock":{"trust":"untrusted","reason":"not_synchronized"},
                "outbox_depth":250,"outbox_oldest_secs":60,"store_nearly_full":true,
                "buses":[{"name":"rs485","devices":{"1":{"online":true},"2":{"online":false}}}],
                "bundles":[{"authority":"owner","stale":true,"age_days":20,"expiring":true,"expires_in_hours":30,"expired":false},
                           {"authority":"hemtjansten","stale":false,"expiring":true,"expired":true}]})),
            doors: vec![
                DoorFacts {
                    door: "entrance".into(),
                    state: Some(serde_json::json!({"alarm":"held_open","strike_fault":true,"panel":"offline"})),
                    forced_at: None,
                },
                DoorFacts { door: "rubbish".into(), state: None, forced_at: Some(at("2026-12-03T11:59:00Z")) },
            ],
            broken_at: Some(17),
            gap: Some((40, at("2026-12-03T11:50:00Z"))),
            checkpoint_failed: Some((30, Some(29), "mismatch".into())),
            quarantined: Some((2, "seq 0 is outside 1 to 2^63-1".into())),
            replaced: Some(("3f0c9a1b".repeat(4), at("2026-12-03T08:00:00Z"))),
        };
        let w = wanted(&f, at("2026-12-03T12:00:30Z"), &Rules::default());
        assert_eq!(
            kinds(&w),
            [
                ("clock_untrusted", ""),
                ("outbox_growing", ""),
                ("store_nearly_full", ""),
                ("device_offline", "rs485 unit 2"),
                ("bundle_expiring", "owner"),
                ("bundle_stale", "owner"),
                ("bundle_expired", "hemtjansten"),
                ("door_held_open", "entrance"),
                ("strike_fault", "entrance"),
                ("device_offline", "entrance panel"),
                ("door_forced_open", "rubbish"),
                ("chain_broken", ""),
                ("checkpoint_invalid", ""),
                ("gap_unfilled", ""),
                ("chain_restarted", ""),
                ("records_quarantined", ""),
            ]
        );
        assert_eq!(w[0].detail, Detail::ClockUntrusted { reason: "not_synchronized".into() });
        assert_eq!(w[12].detail, Detail::CheckpointFailed { seq: 30, covers: Some(29), outcome: "mismatch".into() });
        assert_eq!(w[13].detail, Detail::RecordsMissing { through: 40 });
        assert_eq!(w[14].detail, Detail::RunRestarted { run: "3f0c9a1b".into(), since: at("2026-12-03T08:00:00Z") });
        assert_eq!(w[15].detail, Detail::Quarantined { messages: 2, newest: "seq 0 is outside 1 to 2^63-1".into() });
        for w in &w {
            assert_eq!(Detail::from_json(&w.detail.to_json()).as_ref(), Some(&w.detail), "kept and read back");
        }
        let a_day_later = wanted(&f, at("2026-12-04T08:00:01Z"), &Rules::default());
        assert!(!kinds(&a_day_later).contains(&("chain_restarted", "")), "shown for 24 h");
    }

    #[test]
    fn devices_not_yet_polled_just_after_a_start_are_not_an_outage() {
        let state = |uptime: u64| Facts {
            state: Some(
                serde_json::json!({"uptime_secs": uptime, "buses":[{"name":"rs485","devices":{"3":{"online":false}}}]}),
            ),
            ..Facts::default()
        };
        assert!(wanted(&state(2), at("2026-12-03T12:00:00Z"), &Rules::default()).is_empty());
        assert_eq!(
            kinds(&wanted(&state(40), at("2026-12-03T12:00:00Z"), &Rules::default())),
            [("device_offline", "rs485 unit 3")]
        );
    }

    #[test]
    fn a_hole_younger_than_the_limit_is_not_yet_an_alarm() {
        let f = Facts { gap: Some((40, at("2026-12-03T11:58:00Z"))), ..Facts::default() };
        assert!(wanted(&f, at("2026-12-03T12:00:00Z"), &Rules::default()).is_empty());
    }
}
