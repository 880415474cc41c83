//! `portvakt audit list` and `audit verify`: the local visit list, readable by a person
//! (times in the site's zone) or as JSON, and the chain check with its first break.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use crate::core::hex;
use crate::store::{StoredRecord, VerifyReport};

fn what(r: &StoredRecord) -> String {
    let e = &r.record.event;
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
    let get = |k: &str| detail.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut out = match (e.kind.code(), get("reason"), get("rule")) {
        ("access.granted", _, Some(rule)) => format!("granted: {rule}"),
        ("access.denied", Some(reason), _) => format!("refused: {reason}"),
        (code, _, _) if detail.as_object().is_some_and(serde_json::Map::is_empty) => code.to_owned(),
        (code, _, _) => format!("{code} {}", e.detail),
    };
    if !e.trusted {
        out.push_str(" [clock untrusted]");
    }
    out
}

/// What a door recorded, a line each: the time, what was decided or happened, who.
pub fn render_happened(records: &[StoredRecord], tz: &TimeZone) -> String {
    let mut out = String::new();
    for r in records {
        let e = &r.record.event;
        let who = match (e.holder.as_deref(), e.credential.as_deref()) {
            (Some(h), Some(c)) => format!(" — {h} ({c})"),
            (Some(h), None) => format!(" — {h}"),
            (None, Some(c)) => format!(" — {c}"),
            (None, None) => String::new(),
        };
        let time = e.at.to_zoned(tz.clone()).strftime("%H:%M:%S");
        let _ = writeln!(
            out,
            "{time}  {}  {}{who}  (audit record {})",
            e.door.as_deref().unwrap_or("-"),
            what(r),
            r.record.seq
        );
    }
    out
}

/// The visit list as a table. Its "uploaded" column says `yes` once the collector
/// confirmed a record, `waiting` before, and `local` at a site with no uplink.
pub fn render_list(records: &[StoredRecord], tz: &TimeZone, uplink: bool) -> String {
    let zone = tz.iana_name().unwrap_or("UTC");
    let time_head = format!("time ({zone})");
    // Each column as wide as what it holds, so rows line up whatever the names.
    let width = |head: &str, cell: &dyn Fn(&StoredRecord) -> usize| {
        records.iter().map(cell).max().unwrap_or(0).max(head.chars().count())
    };
    let len = |s: Option<&str>| s.unwrap_or("-").chars().count();
    let times: Vec<String> = records
        .iter()
        .map(|r| r.record.event.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
        .collect();
    let wt = times.iter().map(|t| t.chars().count()).max().unwrap_or(0).max(time_head.chars().count());
    let wd = width("door", &|r| len(r.record.event.door.as_deref()));
    let wh = width("holder", &|r| len(r.record.event.holder.as_deref()));
    let wc = width("credential", &|r| len(r.record.event.credential.as_deref()));
    let mut out = format!(
        "{:>7}  {time_head:<wt$} {:<wd$} {:<wh$} {:<wc$} {:<8} what\n",
        "seq", "door", "holder", "credential", "uploaded"
    );
    for (r, time) in records.iter().zip(&times) {
        let e = &r.record.event;
        let _ = writeln!(
            out,
            "{:>7}  {time:<wt$} {:<wd$} {:<wh$} {:<wc$} {:<8} {}",
            r.record.seq,
            e.door.as_deref().unwrap_or("-"),
            e.holder.as_deref().unwrap_or("-"),
            e.credential.as_deref().unwrap_or("-"),
            match (r.confirmed_at, uplink) {
                (Some(_), _) => "yes",
                (None, true) => "waiting",
                (None, false) => "local",
            },
            what(r)
        );
    }
    let _ = writeln!(out, "{} record(s)", records.len());
    out
}

/// The visit list as JSON lines: one object per record, with its chain hash.
pub fn render_json(records: &[StoredRecord]) -> String {
    let mut out = String::new();
    for r in records {
        let e = &r.record.event;
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
        let v = serde_json::json!({
            "seq": r.record.seq,
            "at": e.at.to_string(),
            "clock_trusted": e.trusted,
            "kind": e.kind.code(),
            "door": e.door,
            "holder": e.holder,
            "credential": e.credential,
            "detail": detail,
            "prev": hex::encode(&r.record.prev),
            "hash": hex::encode(&r.record.hash),
            "confirmed_at": r.confirmed_at.map(|t| t.to_string()),
        });
        let _ = writeln!(out, "{v}");
    }
    out
}

/// The verification report.
pub fn render_verify(path: &str, report: &VerifyReport) -> String {
    let from = if report.anchor_seq == 0 {
        "from the first record".to_owned()
    } else {
        format!("from the anchor after pruned record {}", report.anchor_seq)
    };
    match &report.first_break {
        None if report.erased > 0 => format!(
            "{path}: chain intact: {} record(s) checked {from}; {} personal part(s) erased by retention or on request\n",
            report.checked, report.erased
        ),
        None => format!("{path}: chain intact: {} record(s) checked {from}\n", report.checked),
        Some(b) => format!("{path}: chain BROKEN after {} good record(s) {from}: {b}\n", report.checked),
    }
}
