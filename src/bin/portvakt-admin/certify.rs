//! `certify`: a short-lived phone certificate, checked before it is signed against what
//! the owner granted the authority at the site (from `--config`, or from the workspace's
//! `site add --config`): the role, the doors and the lifetime. A certificate the gateway
//! would refuse is never signed.

use std::path::Path;

use anyhow::{anyhow, bail};
use jiff::{SignedDuration, Timestamp};

use portvakt::admin::workspace::Workspace;
use portvakt::admin::workspace::grant::{certificate_refusal, role_refusal, spec};
use portvakt::config::site_grant;
use portvakt::core::hex;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::keys;

use crate::args::CertifyArgs;
use crate::documents::{read, write_new};

/// Refuses what the gateways would refuse, from the best knowledge of the grant there is.
fn check(a: &CertifyArgs, doors: &[String], workspace: &Path) -> anyhow::Result<()> {
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let g = site_grant(&text, &a.authority).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        if a.site != "*" && a.site != g.site {
            bail!("--site {}: {} is the config of site {}", a.site, path.display(), g.site);
        }
        let grant = spec(&g);
        if let Some(why) = role_refusal(&g.site_roles, Some(&grant), &a.authority, &g.site, &a.role) {
            bail!("--role {}: {why}", a.role);
        }
        if let Some(why) = certificate_refusal(Some(&grant), &a.authority, &g.site, doors, a.hours) {
            bail!("{why}; nothing was signed");
        }
        return Ok(());
    }
    match Workspace::load(workspace) {
        Ok(ws) if ws.settings.authority == a.authority => {
            ws.check_certificate(&a.site, &a.role, doors, a.hours).map_err(|e| anyhow!("{e}; nothing was signed"))
        }
        _ => match certificate_refusal(None, &a.authority, &a.site, doors, a.hours) {
            Some(why) => bail!("{why}; nothing was signed"),
            None => Ok(()),
        },
    }
}

/// Checks, signs and writes the certificate.
pub(crate) fn run(a: CertifyArgs, workspace: &Path) -> anyhow::Result<String> {
    let phone_key = hex::decode32(&a.phone_key).ok_or_else(|| anyhow!("--phone-key: not 64 hex digits"))?;
    let doors: Vec<String> =
        a.doors.split([',', ';', ' ']).map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect();
    check(&a, &doors, workspace)?;
    let revocations = a.revocations.as_ref().map(|p| read(p)).transpose()?;
    // Valid from five minutes ago (a phone's or gateway's clock a little behind), for
    // exactly --hours: the lifetime the gateway measures, not_after - not_before.
    let not_before = Timestamp::now() - SignedDuration::from_mins(5);
    let cert = PhoneCertificate {
        authority: a.authority,
        site: a.site,
        id: a.id,
        holder: a.holder,
        role: a.role,
        phone_key,
        doors,
        not_before,
        not_after: not_before + SignedDuration::from_hours(a.hours),
        revocations,
    };
    let signing = keys::read_private(&a.key)?;
    write_new(&a.out, &seal(DocType::Certificate, &cert.encode(), &signing))?;
    Ok(format!(
        "phone certificate {} for {} valid until {}, written to {}\n",
        cert.id,
        cert.holder,
        cert.not_after,
        a.out.display()
    ))
}
