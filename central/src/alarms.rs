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
    /// The newest signed checkpoint that did not hold, in words.
    pub checkpoint_failed: Option<String>,
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
    /// `gateway_offline`, `clock_untrusted`, `outbox_growing`, `store_nearly_full`,
    /// `device_offline`, `bundle_stale`, `bundle_expiring`, `bundle_expired`,
    /// `door_forced_open`, `door_held_open`, `strike_fault`, `chain_broken`, `gap_unfilled`,
    /// `checkpoint_invalid`, `records_quarantined`, `chain_restarted`.
    pub kind: &'static str,
    /// What it is about within the site: a door, a device, an authority ('' for the site).
    pub subject: String,
    /// In words.
    pub detail: String,
}

/// How long after a gateway's start its devices' health is not yet judged.
const STARTING_SECS: u64 = 30;

fn want(kind: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Wanted {
    Wanted { kind, subject: subject.into(), detail: detail.into() }
}

fn minutes(d: SignedDuration) -> i64 {
    d.as_secs() / 60
}

/// The alarms `f` calls for at `now`.
pub fn wanted(f: &Facts, now: Timestamp, r: &Rules) -> Vec<Wanted> {
    let mut out = Vec::new();
    match (f.online, f.last_seen) {
        (Some(false), _) => {
            out.push(want("gateway_offline", "", "the broker says offline (its last will, or it stopped)"));
        }
        (_, Some(seen)) if now.duration_since(seen) > r.silent_after => {
            out.push(want(
                "gateway_offline",
                "",
                format!("nothing heard for {} min", minutes(now.duration_since(seen))),
            ));
        }
        _ => {}
    }
    if let Some(s) = &f.state {
        state_alarms(s, r, &mut out);
    }
    for d in &f.doors {
        if d.forced_at.is_some() {
            out.push(want("door_forced_open", &d.door, "opened while locked, not closed since"));
        }
        let Some(s) = &d.state else { continue };
        if s.get("alarm").and_then(Value::as_str) == Some("held_open") {
            out.push(want("door_held_open", &d.door, "held open past its limit"));
        }
        if s.get("strike_fault").and_then(Value::as_bool) == Some(true) {
            out.push(want("strike_fault", &d.door, "the relay board does not hold the strike as the gateway wants it"));
        }
        if s.get("panel").and_then(Value::as_str) == Some("offline") {
            out.push(want("device_offline", format!("{} panel", d.door), "the door's panel is silent or frozen"));
        }
    }
    if let Some(at) = f.broken_at {
        out.push(want("chain_broken", "", format!("stored record {at} does not link to the one before it")));
    }
    if let Some(words) = &f.checkpoint_failed {
        out.push(want("checkpoint_invalid", "", words.clone()));
    }
    if let Some((through, since)) = f.gap
        && now.duration_since(since) > r.gap_after
    {
        out.push(want("gap_unfilled", "", format!("records after {through} are stored, {} is missing", through + 1)));
    }
    if let Some((epoch, since)) = &f.replaced
        && now.duration_since(*since) < r.restarted_for
    {
        let name = if epoch.is_empty() { "(unnamed)".to_owned() } else { epoch.chars().take(8).collect() };
        out.push(want(
            "chain_restarted",
            "",
            format!(
                "a new run of the chain ({name}) began {since:.0}: the box was replaced, its card reflashed or its store \
                 restored from a backup; the earlier run's records are kept"
            ),
        ));
    }
    if let Some((n, why)) = &f.quarantined {
        out.push(want("records_quarantined", "", format!("{n} message(s) not stored, the newest: {why}")));
    }
    out
}

fn state_alarms(s: &Value, r: &Rules, out: &mut Vec<Wanted>) {
    if s.pointer("/clock/trust").and_then(Value::as_str) == Some("untrusted") {
        let why = s.pointer("/clock/reason").and_then(Value::as_str).unwrap_or("no reason given");
        out.push(want("clock_untrusted", "", format!("the gateway's clock is untrusted: {why}")));
    }
    let depth = s.get("outbox_depth").and_then(Value::as_u64).unwrap_or(0);
    let oldest = s.get("outbox_oldest_secs").and_then(Value::as_i64).unwrap_or(0);
    if depth > r.outbox_depth || oldest > r.outbox_age.as_secs() {
        out.push(want("outbox_growing", "", format!("{depth} record(s) waiting, the oldest for {} min", oldest / 60)));
    }
    if s.get("store_nearly_full").and_then(Value::as_bool) == Some(true) {
        out.push(want("store_nearly_full", "", "the gateway's store is nearly full"));
    }
    // Just after a start the gateway has not polled every device yet: not an outage.
    let starting = s.get("uptime_secs").and_then(Value::as_u64).is_some_and(|u| u < STARTING_SECS);
    for bus in s.get("buses").and_then(Value::as_array).into_iter().flatten().filter(|_| !starting) {
        let name = bus.get("name").and_then(Value::as_str).unwrap_or("?");
        for (unit, dev) in bus.get("devices").and_then(Value::as_object).into_iter().flatten() {
            if dev.get("online").and_then(Value::as_bool) == Some(false) {
                out.push(want("device_offline", format!("{name} unit {unit}"), "does not answer on its bus"));
            }
        }
    }
    for b in s.get("bundles").and_then(Value::as_array).into_iter().flatten() {
        let who = b.get("authority").and_then(Value::as_str).unwrap_or("?");
        let flag = |k: &str| b.get(k).and_then(Value::as_bool) == Some(true);
        let hours = b.get("expires_in_hours").and_then(Value::as_i64).unwrap_or(0);
        if flag("expired") {
            out.push(want("bundle_expired", who, format!("{who}'s bundle has ended: ask {who} for a new one")));
        } else if flag("expiring") {
            out.push(want("bundle_expiring", who, format!("{who}'s bundle ends in {hours} h")));
        }
        if flag("stale") {
            let age = b.get("age_days").and_then(Value::as_i64).unwrap_or(0);
            out.push(want("bundle_stale", who, format!("{who}'s bundle is {age} days old")));
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
        assert_eq!(w[0].detail, "nothing heard for 6 min");
    }

    #[test]
    fn each_problem_of_the_state_and_doors_is_its_own_alarm() {
        let f = Facts {
            online: Some(true),
            last_seen: Some(at("2026-12-03T12:00:00Z")),
            state: Some(serde_json::json!({
                "clock":{"trust":"untrusted","reason":"not synchronised since boot"},
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
            checkpoint_failed: Some("checkpoint (record 30) of record 29: MISMATCH".into()),
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
        assert_eq!(w[0].detail, "the gateway's clock is untrusted: not synchronised since boot");
        assert_eq!(w[12].detail, "checkpoint (record 30) of record 29: MISMATCH");
        assert_eq!(w[13].detail, "records after 40 are stored, 41 is missing");
        assert!(
            w[14].detail.starts_with("a new run of the chain (3f0c9a1b) began 2026-12-03T08:00:00Z"),
            "{}",
            w[14].detail
        );
        assert_eq!(w[15].detail, "2 message(s) not stored, the newest: seq 0 is outside 1 to 2^63-1");
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
