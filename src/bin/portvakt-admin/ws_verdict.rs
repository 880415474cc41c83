//! What became of a publish: before signing, whether the gateway runs with (or the broker
//! holds) a bundle of this authority that this workspace did not issue — another copy of
//! the workspace, or another tool, whose changes the new bundle would silently replace;
//! after delivery over MQTT, the gateway's own verdict from its retained `state`, waited
//! for within a bound.

use std::time::{Duration, Instant};

use portvakt::admin::workspace::Workspace;
use portvakt::admin::workspace::in_force::read_report;
use portvakt::admin::workspace::mqtt_delivery::{read_retained, read_retained_if_any};
use portvakt::admin::workspace::publish::read_issued;
use portvakt::credentials::intake::label;

/// How long one look at the broker may take.
const LOOK: Duration = Duration::from_secs(5);

/// The newest version of this authority's bundle for `site` that the broker holds
/// retained, or that the gateway's inbox took in (`accepted/`), when this workspace did
/// not issue it and it is newer than the last this workspace issued.
pub(crate) fn other_issuer(ws: &Workspace, site: &str) -> Result<Option<u64>, String> {
    let me = &ws.settings.authority;
    let Some(s) = ws.settings.sites.get(site) else { return Ok(None) };
    let last = read_issued(&ws.issued_path(site)).map_err(|e| e.to_string())?;
    // Only what came after the last bundle issued here (a minute's grace for clocks) can
    // have replaced it: older files in accepted/ are not read again at every publish.
    let since = last.as_ref().map(|b| std::time::SystemTime::from(b.issued_at) - Duration::from_secs(60));
    let mut seen: Vec<u64> = Vec::new();
    if let Some(m) = &s.mqtt {
        let topic = format!("{}/{site}/bundle/{me}", m.topic_root);
        if let Some(bytes) = read_retained_if_any(ws, m, &topic, LOOK)? {
            seen.extend(label(&bytes).filter(|l| &l.authority == me).and_then(|l| l.version));
        }
    }
    if let Some(inbox) = &s.inbox
        && let Ok(files) = std::fs::read_dir(ws.resolve(inbox).join("accepted"))
    {
        for f in files.filter_map(Result::ok) {
            let recent = f
                .metadata()
                .is_ok_and(|m| m.len() <= 4 << 20 && since.is_none_or(|t| m.modified().is_ok_and(|at| at >= t)));
            if let Some(l) = recent.then(|| std::fs::read(f.path()).ok()).flatten().and_then(|b| label(&b))
                && l.document == "bundle"
                && &l.authority == me
            {
                seen.extend(l.version);
            }
        }
    }
    let last = last.map_or(0, |b| b.version);
    Ok(seen.into_iter().filter(|v| *v > last && !ws.issued_version_path(site, *v).exists()).max())
}

/// Waits (at most `within`, for all of them together) for each gateway's verdict on the
/// version published to it, in its retained `state`; says each, and whether any refused.
pub(crate) fn await_verdicts(ws: &Workspace, published: &[(String, u64)], within: Duration) -> (Vec<String>, bool) {
    let me = &ws.settings.authority;
    let started = Instant::now();
    let mut open: Vec<&(String, u64)> = published.iter().collect();
    let mut said = Vec::new();
    let mut refused = false;
    while !open.is_empty() {
        open.retain(|(site, version)| {
            let Some(m) = ws.settings.sites.get(site).and_then(|s| s.mqtt.as_ref()) else { return false };
            let topic = format!("{}/{site}/state", m.topic_root);
            let report = read_retained(ws, m, &topic, LOOK).ok().and_then(|b| read_report(&b, me).ok());
            let Some(r) = report else { return true };
            if r.version == Some(*version) {
                said.push(format!("{site}: the gateway took in version {version}"));
                return false;
            }
            match r.verdict.filter(|v| !v.accepted && v.version == Some(*version)) {
                Some(v) => {
                    said.push(format!(
                        "{site}: version {version} was REFUSED by the gateway at {}: {}",
                        v.at, v.message
                    ));
                    refused = true;
                    false
                }
                None => true,
            }
        });
        if started.elapsed() >= within {
            for (site, version) in &open {
                said.push(format!(
                    "{site}: no word from the gateway on version {version} within {} s (offline? `in-force --mqtt` \
                     tells later)",
                    within.as_secs()
                ));
            }
            break;
        }
        if !open.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    (said, refused)
}
