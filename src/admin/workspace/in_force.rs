//! What a gateway has in force against the workspace: its report (`portvakt status
//! --json` on the box, or its retained `state` over MQTT — both carry `bundles`) names
//! the version of this authority's bundle it runs with; the workspace keeps every version
//! it issued, so it can say whether the last one was taken in and what the gateway would
//! still change to match the workspace.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::Workspace;
use super::diff::diff;
use super::files;
use super::policy_file::PolicyFile;
use super::publish::{PublishError, read_issued};

/// This authority's bundle as a gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The site the report is from.
    pub site: String,
    /// The version in force (`None`: none of this authority's).
    pub version: Option<u64>,
    /// Its end, as reported.
    pub not_after: Option<String>,
    /// Reported expired.
    pub expired: bool,
    /// The gateway's last word on this authority's bundle, if it has one.
    pub verdict: Option<Verdict>,
}

/// The gateway's verdict on a bundle of this authority (its `intake` list, or an older
/// gateway's `uplink.last_update` when that was this authority's bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The version judged, when the gateway could read it.
    pub version: Option<u64>,
    /// Taken in.
    pub accepted: bool,
    /// When.
    pub at: String,
    /// What was taken in, or why not.
    pub message: String,
}

fn verdict_of(v: &serde_json::Value, authority: &str) -> Option<Verdict> {
    let text = |o: &serde_json::Value, k: &str| o.get(k).and_then(|t| t.as_str()).map(str::to_owned);
    let listed = v.get("intake").and_then(|l| l.as_array()).and_then(|l| {
        l.iter().find(|x| {
            text(x, "authority").as_deref() == Some(authority) && text(x, "document").as_deref() == Some("bundle")
        })
    });
    if let Some(x) = listed {
        return Some(Verdict {
            version: x.get("version").and_then(serde_json::Value::as_u64),
            accepted: x.get("accepted").and_then(serde_json::Value::as_bool).unwrap_or(false),
            at: text(x, "at").unwrap_or_default(),
            message: text(x, "message").unwrap_or_default(),
        });
    }
    let last = v.get("uplink").and_then(|u| u.get("last_update"))?;
    text(last, "topic").filter(|t| t.ends_with(&format!("/bundle/{authority}")))?;
    Some(Verdict {
        version: None,
        accepted: last.get("accepted").and_then(serde_json::Value::as_bool).unwrap_or(false),
        at: text(last, "at").unwrap_or_default(),
        message: text(last, "message").unwrap_or_default(),
    })
}

/// Reads a status report or `state` payload.
pub fn read_report(json: &[u8], authority: &str) -> Result<Reported, String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not a gateway's status or state (JSON): {e}"))?;
    let site = v.get("site").and_then(|s| s.as_str()).ok_or("no \"site\" in it: not a gateway's status or state")?;
    let bundles =
        v.get("bundles").and_then(|b| b.as_array()).ok_or("no \"bundles\" in it: not a gateway's status or state")?;
    let mine = bundles.iter().find(|b| b.get("authority").and_then(|a| a.as_str()) == Some(authority));
    Ok(Reported {
        site: site.into(),
        version: mine.and_then(|b| b.get("version")).and_then(serde_json::Value::as_u64),
        not_after: mine.and_then(|b| b.get("not_after")).and_then(|t| t.as_str()).map(str::to_owned),
        expired: mine.and_then(|b| b.get("expired")).and_then(serde_json::Value::as_bool).unwrap_or(false),
        verdict: verdict_of(&v, authority),
    })
}

impl Workspace {
    /// Says what is in force at the reported gateway against the workspace.
    pub fn compare_in_force(&self, r: &Reported, now: Timestamp) -> Result<String, PublishError> {
        let site = &r.site;
        let last = read_issued(&self.issued_path(site))?.map(|b| b.version);
        let me = &self.settings.authority;
        let mut out = String::new();
        match (r.version, last) {
            (None, None) => {
                let _ =
                    writeln!(out, "{site}: nothing of {me} is in force, and this workspace has issued nothing for it");
            }
            (None, Some(w)) => {
                let _ = writeln!(out, "{site}: nothing of {me} is in force; {}", fate(r.verdict.as_ref(), w));
            }
            (Some(v), Some(w)) if v == w => {
                let _ = writeln!(out, "{site}: in force is version {v}, the last this workspace issued{}", until(r));
            }
            (Some(v), Some(w)) if v < w => {
                let _ = writeln!(out, "{site}: in force is version {v}{}; {}", until(r), fate(r.verdict.as_ref(), w));
            }
            (Some(v), w) => {
                let _ = writeln!(
                    out,
                    "{site}: in force is version {v}{}, which this workspace did not issue (its last: {}); another copy of the workspace or another tool issued it",
                    until(r),
                    w.map_or("none".into(), |w| w.to_string())
                );
            }
        }
        if let Some(v) = r.version
            && let Some(in_force) = read_issued(&self.issued_version_path(site, v))?
        {
            let policy_path = self.issued_version_path(site, v).with_extension("policy.toml");
            let in_force_policy: PolicyFile = files::read_optional(&policy_path)?.unwrap_or_default();
            let plan = self.plan(site, now)?;
            let d = diff(Some((&in_force, &in_force_policy)), (&plan.bundle, &plan.policy), now, &self.timezone());
            if d.is_empty() {
                let _ = writeln!(out, "  the gateway runs with exactly what the workspace holds");
            } else {
                let _ = writeln!(
                    out,
                    "  the workspace differs from what is in force ({} change(s); `publish` sends them):",
                    d.lines.len()
                );
                out.push_str(&d.render());
            }
        }
        Ok(out)
    }
}

/// What became of version `w`, issued and not in force, by the gateway's verdict.
fn fate(verdict: Option<&Verdict>, w: u64) -> String {
    match verdict {
        Some(v) if !v.accepted && v.version == Some(w) => {
            format!("version {w} was REFUSED by the gateway at {}: {}", v.at, v.message)
        }
        Some(v) if !v.accepted && v.version.is_none() => format!(
            "version {w} is not seen yet; the gateway refused a document on this authority's topic at {} that it \
             could not read as one of yours: {}",
            v.at, v.message
        ),
        Some(v) if !v.accepted && v.version.is_some_and(|n| n > w) => format!(
            "a version {} this workspace did not issue was refused at {}: {}; version {w} is not seen yet",
            v.version.unwrap_or_default(),
            v.at,
            v.message
        ),
        _ => format!(
            "version {w} was issued and the gateway has not seen it yet (delivered? the daemon looks in its inbox \
             every 10 s; `portvakt intake` at once)"
        ),
    }
}

fn until(r: &Reported) -> String {
    match (&r.not_after, r.expired) {
        (Some(t), true) => format!(" (EXPIRED {t})"),
        (Some(t), false) => format!(" (until {t})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_payload_names_the_version_of_this_authority() {
        let state = br#"{"site":"storgatan-12","bundles":[{"authority":"hemtjansten","version":41,"not_after":"2026-12-22T06:00:00Z","expired":false},{"authority":"owner","version":7,"expired":true,"not_after":"2026-12-01T00:00:00Z"}]}"#;
        let r = read_report(state, "owner").unwrap();
        assert_eq!((r.site.as_str(), r.version, r.expired), ("storgatan-12", Some(7), true));
        assert_eq!(read_report(state, "sopbolaget").unwrap().version, None);
        assert!(read_report(b"{\"site\":\"x\"}", "owner").unwrap_err().contains("bundles"));
    }

    #[test]
    fn a_refusal_in_the_gateways_intake_list_is_what_became_of_the_version_issued() {
        let state = br#"{"site":"s","bundles":[],"intake":[{"authority":"hemtjansten","document":"bundle","version":9,"at":"2026-12-07T10:00:00.000Z","accepted":false,"message":"role_not_granted: property_staff","source":"topic portvakt/s/bundle/hemtjansten"}]}"#;
        let r = read_report(state, "hemtjansten").unwrap();
        let v = r.verdict.clone().unwrap();
        assert_eq!((v.version, v.accepted), (Some(9), false));
        assert!(
            fate(r.verdict.as_ref(), 9)
                .contains("REFUSED by the gateway at 2026-12-07T10:00:00.000Z: role_not_granted")
        );
        assert!(fate(None, 9).contains("has not seen it yet"));
        assert_eq!(read_report(state, "owner").unwrap().verdict, None);
        // An older gateway says only its last update over MQTT.
        let older = br#"{"site":"s","bundles":[],"uplink":{"last_update":{"topic":"portvakt/s/bundle/owner","at":"t","accepted":false,"message":"expired"}}}"#;
        let v = read_report(older, "owner").unwrap().verdict.unwrap();
        assert!(!v.accepted && v.message == "expired");
    }
}
