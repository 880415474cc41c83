//! From the workspace to the gateways on the command line: `diff`, `publish`, `renew` and
//! `in-force`. Every site's plan is checked before anything is signed; a bundle is
//! recorded as issued only once it is delivered.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use jiff::{SignedDuration, Timestamp};

use portvakt::admin::workspace::Workspace;
use portvakt::admin::workspace::in_force::read_report;
use portvakt::admin::workspace::mqtt_delivery::{publish_retained, read_retained};
use portvakt::admin::workspace::publish::{
    Allow, Plan, Signed, check, deliver_to_folder, read_issued, sign_bundle, sign_revocations,
};

use crate::ws_args::{PublishArgs, WsCommand};

const MQTT_WITHIN: Duration = Duration::from_secs(15);

pub(crate) fn run(ws: &Workspace, command: WsCommand) -> anyhow::Result<String> {
    match command {
        WsCommand::Diff { site } => diff(ws, site.as_deref()),
        WsCommand::Publish(args) => publish(ws, &args),
        WsCommand::Renew { out } => renew(ws, out.as_deref()),
        WsCommand::InForce { status, mqtt, site } => in_force(ws, status.as_deref(), mqtt, site.as_deref()),
        _ => bail!("not a publishing command"),
    }
}

fn sites(ws: &Workspace, site: Option<&str>) -> anyhow::Result<Vec<String>> {
    if ws.settings.sites.is_empty() {
        bail!("the workspace has no site yet: `portvakt-admin site add <site> …`");
    }
    Ok(match site {
        Some(s) => vec![ws.site_or_only(Some(s))?],
        None => ws.settings.sites.keys().cloned().collect(),
    })
}

fn header(p: &Plan) -> String {
    let b = &p.bundle;
    format!(
        "{}: version {} with {} credential(s), {} booking(s){}, against {}:\n",
        p.site,
        b.version,
        b.entries.len(),
        b.bookings.len(),
        if b.policy.is_some() { ", the owner's hours" } else { "" },
        p.last_version.map_or("nothing issued before".into(), |v| format!("version {v}"))
    )
}

fn diff(ws: &Workspace, site: Option<&str>) -> anyhow::Result<String> {
    let mut out = String::new();
    let now = Timestamp::now();
    for s in sites(ws, site)? {
        let p = ws.plan(&s, now)?;
        out.push_str(&header(&p));
        out.push_str(&p.diff.render());
        for w in &p.diff.suspicious {
            let _ = writeln!(out, "  WARNING: {w}: `publish` refuses it without --allow-large-change");
        }
        for w in &p.warnings {
            let _ = writeln!(out, "  WARNING: {w}: `publish` refuses it without --accept-warnings");
        }
    }
    if let Some(r) = ws.revocations_due(now)? {
        let _ = writeln!(
            out,
            "revocations: a new list of {} id(s) and {} phone key(s) goes with it",
            r.ids.len(),
            r.keys.len()
        );
    }
    Ok(out)
}

/// Where a site's documents go: `out`, or its inbox and/or broker.
fn deliver(ws: &Workspace, site: &str, out: Option<&Path>, doc: &Signed, topic_kind: &str) -> anyhow::Result<String> {
    if let Some(dir) = out {
        return Ok(format!("written to {}", deliver_to_folder(dir, doc)?.display()));
    }
    let s = ws.settings.sites.get(site).ok_or_else(|| anyhow!("no site {site}"))?;
    let mut said = Vec::new();
    if let Some(inbox) = &s.inbox {
        said.push(format!("dropped into {}", deliver_to_folder(&ws.resolve(inbox), doc)?.display()));
    }
    if let Some(m) = &s.mqtt {
        let topic = format!("{}/{site}/{topic_kind}/{}", m.topic_root, ws.settings.authority);
        publish_retained(ws, m, &topic, doc.bytes.clone(), MQTT_WITHIN)
            .map_err(|e| anyhow!("{site}: publishing on {topic}: {e}"))?;
        said.push(format!("published retained on {topic}"));
    }
    if said.is_empty() {
        bail!("{site} has nowhere to deliver to: `site add {site} --inbox DIR` or `--broker URL`, or give --out DIR");
    }
    Ok(said.join(", "))
}

/// How a publish goes besides what it may sign.
struct Delivery<'a> {
    /// A folder instead of each site's inbox or broker.
    out_dir: Option<&'a Path>,
    /// Replace another issuer's bundle.
    replace_other: bool,
    /// How long to wait for the gateway's verdict over MQTT.
    wait: Duration,
}

fn publish(ws: &Workspace, args: &PublishArgs) -> anyhow::Result<String> {
    let now = Timestamp::now();
    let allow = Allow { unchanged: args.renew, suspicious: args.allow_large_change, warnings: args.accept_warnings };
    let how = Delivery {
        out_dir: args.out.as_deref(),
        replace_other: args.replace_other_issuer,
        wait: Duration::from_secs(args.wait),
    };
    publish_sites(ws, &sites(ws, args.site.as_deref())?, allow, &how, now)
}

/// Refusals of plans whose site runs with (or whose broker holds) a bundle of this
/// authority that the workspace did not issue.
fn other_issuers(ws: &Workspace, plans: &[Plan], out: &mut String) -> Vec<String> {
    let mut refusals = Vec::new();
    for p in plans {
        match crate::ws_verdict::other_issuer(ws, &p.site) {
            Ok(Some(n)) => refusals.push(format!(
                "{}: this replaces version {n} from another issuer (another copy of this workspace, or another \
                 tool), whose changes would be lost; compare with `in-force`, or --replace-other-issuer if that is \
                 meant; nothing was signed",
                p.site
            )),
            Ok(None) => {}
            Err(e) => {
                let _ = writeln!(out, "  note: {}: could not look for another issuer's bundle: {e}", p.site);
            }
        }
    }
    refusals
}

fn publish_sites(
    ws: &Workspace,
    sites: &[String],
    allow: Allow,
    how: &Delivery<'_>,
    now: Timestamp,
) -> anyhow::Result<String> {
    let out_dir = how.out_dir;
    let mut plans = sites.iter().map(|s| ws.plan(s, now)).collect::<Result<Vec<_>, _>>()?;
    let revocations = ws.revocations_due(now)?;
    let mut out = String::new();
    for p in &plans {
        out.push_str(&header(p));
        out.push_str(&p.diff.render());
        for w in &p.warnings {
            let _ = writeln!(out, "  WARNING: {w}");
        }
    }
    if revocations.is_some() && !allow.unchanged {
        // Only the revocation list changed for these: their bundles stay as issued.
        plans.retain(|p| !(p.diff.is_empty() && p.last_version.is_some()));
    }
    let mut refusals: Vec<String> = plans.iter().filter_map(|p| check(p, allow).err()).map(|e| e.to_string()).collect();
    if refusals.is_empty() && out_dir.is_none() && !how.replace_other {
        refusals = other_issuers(ws, &plans, &mut out);
    }
    if !refusals.is_empty() {
        print!("{out}");
        bail!("{}", refusals.join("\n"));
    }
    let key = portvakt::credentials::keys::read_private(&ws.resolve(&ws.settings.key))?;
    let mut waiting = Vec::new();
    for p in &plans {
        let doc = sign_bundle(p, &key);
        let said = deliver(ws, &p.site, out_dir, &doc, "bundle")?;
        ws.record_issued(p, &doc)?;
        let _ = writeln!(out, "signed {}: {said}", doc.name);
        waiting.push((p.site.clone(), p.bundle.version));
    }
    if let Some(list) = revocations {
        let doc = sign_revocations(&list, &key);
        for site in ws.settings.sites.keys() {
            let said = deliver(ws, site, out_dir, &doc, "revocations")?;
            let _ = writeln!(
                out,
                "signed {} ({} id(s), {} phone key(s)): {said}",
                doc.name,
                list.ids.len(),
                list.keys.len()
            );
            if out_dir.is_some() {
                break;
            }
        }
        ws.record_revocations(&doc)?;
    }
    for w in portvakt::admin::lifetime::warnings(ws.settings.valid_days, ws.settings.reissue_every_days) {
        let _ = writeln!(out, "warning: {w}");
    }
    let over_mqtt = |site: &str| ws.settings.sites.get(site).is_some_and(|s| s.mqtt.is_some());
    waiting.retain(|(s, _)| out_dir.is_none() && !how.wait.is_zero() && over_mqtt(s));
    let (said, refused) = crate::ws_verdict::await_verdicts(ws, &waiting, how.wait);
    for line in said {
        let _ = writeln!(out, "{line}");
    }
    if refused {
        print!("{out}");
        bail!(
            "the gateway refused what was published (above): nothing of it is in force; put right what it says \
             and publish again (`publish --renew` when nothing in the workspace had to change)"
        );
    }
    Ok(out)
}

fn renew(ws: &Workspace, out: Option<&Path>) -> anyhow::Result<String> {
    let now = Timestamp::now();
    let every = SignedDuration::from_hours(ws.settings.reissue_every_days.saturating_mul(24));
    let mut due = Vec::new();
    let mut said = String::new();
    for site in ws.settings.sites.keys() {
        match read_issued(&ws.issued_path(site))? {
            Some(b) if now.duration_since(b.issued_at) < every => {
                let _ = writeln!(said, "{site}: version {} issued {}, not due yet", b.version, b.issued_at);
            }
            _ => due.push(site.clone()),
        }
    }
    if due.is_empty() {
        return Ok(said);
    }
    let how = Delivery { out_dir: out, replace_other: false, wait: Duration::from_secs(20) };
    let allow = Allow { unchanged: true, suspicious: false, warnings: true };
    said.push_str(&publish_sites(ws, &due, allow, &how, now)?);
    Ok(said)
}

fn in_force(ws: &Workspace, status: Option<&Path>, mqtt: bool, site: Option<&str>) -> anyhow::Result<String> {
    let report = match (status, mqtt) {
        (Some(p), false) => {
            let mut bytes = Vec::new();
            if p == Path::new("-") {
                std::io::stdin().read_to_end(&mut bytes).context("reading standard input")?;
            } else {
                bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            }
            bytes
        }
        (None, true) => {
            let site = ws.site_or_only(site)?;
            let m = ws
                .settings
                .sites
                .get(&site)
                .and_then(|s| s.mqtt.as_ref())
                .ok_or_else(|| anyhow!("{site} has no broker: `site add {site} --broker URL …`"))?;
            let topic = format!("{}/{site}/state", m.topic_root);
            read_retained(ws, m, &topic, MQTT_WITHIN).map_err(|e| anyhow!("{e}"))?
        }
        _ => bail!("give --status FILE (`portvakt status --json` on the box; - for standard input) or --mqtt"),
    };
    let r = read_report(&report, &ws.settings.authority).map_err(|e| anyhow!("{e}"))?;
    if !ws.settings.sites.contains_key(&r.site) {
        bail!("the report is from {}, which is not a site of this workspace", r.site);
    }
    Ok(ws.compare_in_force(&r, Timestamp::now())?)
}
