//! The doctor's store lines: the store opens and its chain holds, the device key and the
//! newest checkpoint, the outbox, and the bundles in it with their age and end.

use jiff::{SignedDuration, Timestamp};

use super::{Check, Verdict, check};
use crate::config::Config;
use crate::credentials::registry::Registry;
use crate::credentials::verify::Trust;
use crate::store::Store;
use crate::tools::audit_anchor;

/// Records waiting longer than this for the uplink are worth a warning.
const OUTBOX_WAIT: SignedDuration = SignedDuration::from_hours(1);

/// What `audit verify` would say of the newest checkpoint (without `--against`).
fn checkpoint_check(store: &Store) -> Check {
    let report = match audit_anchor::check(store, None) {
        Ok(r) => r,
        Err(e) => return check("checkpoint", Verdict::Failed, e.to_string(), None),
    };
    match report.newest {
        None => check(
            "checkpoint",
            Verdict::Warning,
            "none in the store yet",
            Some("the daemon signs one every store.checkpoint_interval and at every stop"),
        ),
        Some(Err(e)) => check(
            "checkpoint",
            Verdict::Failed,
            format!("the newest checkpoint does not verify: {e}"),
            Some("keep the file for investigation; compare with the collector's copy (docs/audit.md)"),
        ),
        Some(Ok(c)) if c.broken() => {
            check("checkpoint", Verdict::Failed, c.words(), Some("keep the file for investigation; see docs/audit.md"))
        }
        Some(Ok(c)) => check("checkpoint", Verdict::Ok, c.words(), None),
    }
}

/// The outbox: what waits for the uplink, and since when.
fn outbox_check(cfg: &Config, store: &Store, now: Timestamp) -> Check {
    let health = match store.health() {
        Ok(h) => h,
        Err(e) => return check("outbox", Verdict::Failed, e.to_string(), None),
    };
    let waiting = health.outbox_depth;
    match (&cfg.uplink, health.oldest_unconfirmed) {
        (None, _) => check("outbox", Verdict::Ok, format!("{waiting} record(s) kept locally (no uplink)"), None),
        (Some(_), None) => check("outbox", Verdict::Ok, "empty: every record reached the uplink", None),
        (Some(up), Some(oldest)) => {
            let age = now.duration_since(oldest);
            let detail = format!("{waiting} record(s) waiting for {}, the oldest for {} min", up.url(), age.as_mins());
            if age > OUTBOX_WAIT {
                check(
                    "outbox",
                    Verdict::Warning,
                    detail,
                    Some("check the uplink (`portvakt status`): nothing is lost, but the collector is behind"),
                )
            } else {
                check("outbox", Verdict::Ok, detail, None)
            }
        }
    }
}

/// The device key's public half, from its commissioning record: the collector needs it
/// to check the chain's checkpoints (it goes in the hand-over record).
fn device_key_check(store: &Store) -> Check {
    match store.latest_of_kind(crate::store::EventKind::DeviceKey) {
        Ok(Some((at, d))) if d["public_key"].is_string() => {
            let key = d["public_key"].as_str().unwrap_or_default();
            check("device key", Verdict::Ok, format!("{key} (made {at}); it signs the audit checkpoints"), None)
        }
        Ok(Some((_, d))) => check(
            "device key",
            Verdict::Warning,
            format!("not usable: {}", d["error"].as_str().unwrap_or("unknown")),
            Some("no checkpoints are signed; see docs/audit.md, Checkpoints"),
        ),
        Ok(None) => check("device key", Verdict::Warning, "none yet", Some("it is made at the daemon's first start")),
        Err(e) => check("device key", Verdict::Failed, e.to_string(), None),
    }
}

pub(super) fn store_checks(cfg: &Config, daemon_runs: bool, now: Timestamp, out: &mut Vec<Check>) {
    if !cfg.store.path.exists() {
        out.push(check(
            "store",
            Verdict::Warning,
            format!("{} does not exist yet", cfg.store.path.display()),
            Some("it is made at the first start of the daemon"),
        ));
        out.push(check(
            "bundles",
            Verdict::Warning,
            "none: no store yet",
            Some("drop the authorities' bundles in the inbox"),
        ));
        return;
    }
    // The daemon is the store's one writer: beside it, read only.
    let opened = if daemon_runs { Store::open_read_only(&cfg.store.path) } else { Store::open(&cfg.store) };
    let opened = match opened {
        Err(crate::store::StoreError::Locked { .. }) => Store::open_read_only(&cfg.store.path),
        other => other,
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            out.push(check(
                "store",
                Verdict::Failed,
                e.to_string(),
                Some("see docs/audit.md: restore or move the damaged file aside"),
            ));
            return;
        }
    };
    if daemon_runs {
        out.push(check(
            "store",
            Verdict::Ok,
            format!("{} opens (chain check left to `portvakt audit verify`)", cfg.store.path.display()),
            None,
        ));
    } else {
        match store.verify() {
            Ok(r) if r.first_break.is_none() => {
                out.push(check("store", Verdict::Ok, format!("{} records, hash chain intact", r.checked), None));
            }
            Ok(r) => out.push(check(
                "store",
                Verdict::Failed,
                format!("hash chain broken: {}", r.first_break.map(|b| b.to_string()).unwrap_or_default()),
                Some("keep the file for investigation; see docs/audit.md"),
            )),
            Err(e) => out.push(check("store", Verdict::Failed, e.to_string(), None)),
        }
    }
    out.push(device_key_check(&store));
    out.push(checkpoint_check(&store));
    out.push(outbox_check(cfg, &store, now));
    match Registry::from_store(&store, &Trust::of(cfg)) {
        Ok((reg, dropped)) => {
            for d in dropped {
                out.push(check("bundles", Verdict::Warning, format!("a stored document is not used: {d}"), None));
            }
            let mut any = false;
            for (authority, info) in reg.bundles() {
                any = true;
                let age = now.duration_since(info.issued_at);
                let detail = format!(
                    "{authority}: version {}, {} credential(s), {} h old",
                    info.version,
                    info.entries,
                    age.as_hours()
                );
                let grace = cfg.expiry_grace(authority);
                let ends = crate::core::expiry::expiry(info.not_after, now, cfg.intake.expiry_warning, grace);
                out.push(if ends.warns() {
                    let detail = format!("{detail}; {}", ends.words());
                    check(
                        "bundles",
                        Verdict::Warning,
                        detail,
                        Some("ask the authority for a new bundle before it ends"),
                    )
                } else if age > cfg.intake.stale_after {
                    check("bundles", Verdict::Warning, detail, Some("ask the authority for a new bundle"))
                } else {
                    check("bundles", Verdict::Ok, detail, None)
                });
            }
            if !any {
                out.push(check(
                    "bundles",
                    Verdict::Warning,
                    "none taken in yet: only the door code and the config's rules apply",
                    Some(&format!("drop the authorities' signed bundles in {}", cfg.intake.inbox.display())),
                ));
            }
        }
        Err(e) => out.push(check("bundles", Verdict::Failed, e.to_string(), None)),
    }
}
