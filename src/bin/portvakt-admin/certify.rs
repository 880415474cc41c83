//! `certify`: a short-lived phone certificate, checked before it is signed against what
//! the owner granted the authority at the site (from `--config`, or from the workspace's
//! `site add --config`): the role, the doors and the lifetime. A certificate the gateway
//! would refuse is never signed. With `--delegation` it is signed by the issuer the
//! authority delegated to, and checked against that delegation too.

use std::path::Path;

use anyhow::{anyhow, bail};
use jiff::{SignedDuration, Timestamp};

use portvakt::admin::workspace::Workspace;
use portvakt::admin::workspace::grant::{certificate_refusal, role_refusal, spec};
use portvakt::config::site_grant;
use portvakt::core::hex;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::issue;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::keys;

use portvakt_phone::PhonePublicKey;

use crate::args::CertifyArgs;
use crate::documents::{read, write_new};

/// What is to be signed, as the grant sees it.
pub(crate) struct Asked<'a> {
    /// The authority.
    pub(crate) authority: &'a str,
    /// The site, or `*`.
    pub(crate) site: &'a str,
    /// The role.
    pub(crate) role: &'a str,
    /// The doors.
    pub(crate) doors: &'a [String],
    /// The lifetime in hours.
    pub(crate) hours: i64,
}

/// Refuses what the gateways would refuse, from the best knowledge of the grant there is:
/// the site's config, else the workspace, else the most any authority but the owner gets.
pub(crate) fn check_grant(a: &Asked<'_>, config: Option<&Path>, workspace: &Path) -> anyhow::Result<()> {
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let g = site_grant(&text, a.authority).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        if a.site != "*" && a.site != g.site {
            bail!("--site {}: {} is the config of site {}", a.site, path.display(), g.site);
        }
        let grant = spec(&g);
        if let Some(why) = role_refusal(&g.site_roles, Some(&grant), a.authority, &g.site, a.role) {
            bail!("role {}: {why}", a.role);
        }
        if let Some(why) = certificate_refusal(Some(&grant), a.authority, &g.site, a.doors, a.hours) {
            bail!("{why}; nothing was signed");
        }
        return Ok(());
    }
    match Workspace::load(workspace) {
        Ok(ws) if ws.settings.authority == a.authority => {
            ws.check_certificate(a.site, a.role, a.doors, a.hours).map_err(|e| anyhow!("{e}; nothing was signed"))
        }
        _ => match certificate_refusal(None, a.authority, a.site, a.doors, a.hours) {
            Some(why) => bail!("{why}; nothing was signed"),
            None => Ok(()),
        },
    }
}

/// The 32 bytes certificates name a phone key by: 64 hex digits as they are (an Ed25519
/// key, or an id), 130 (a P-256 key, uncompressed) as the key's id.
pub(crate) fn phone_key_id(text: &str) -> anyhow::Result<[u8; 32]> {
    if let Some(id) = hex::decode32(text) {
        return Ok(id);
    }
    hex::decode(text.trim())
        .and_then(|b| PhonePublicKey::p256(&b))
        .map(|k| k.id())
        .ok_or_else(|| anyhow!("--phone-key: neither 64 hex digits nor a P-256 key (130 hex digits starting 04)"))
}

/// Checks, signs and writes the certificate.
pub(crate) fn run(a: CertifyArgs, workspace: &Path) -> anyhow::Result<String> {
    let phone_key = phone_key_id(&a.phone_key)?;
    let doors = door_list(&a.doors);
    let asked = Asked { authority: &a.authority, site: &a.site, role: &a.role, doors: &doors, hours: a.hours };
    check_grant(&asked, a.config.as_deref(), workspace)?;
    let delegation = a.delegation.as_ref().map(|p| read(p)).transpose()?;
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
    let (id, holder, until) = (cert.id.clone(), cert.holder.clone(), cert.not_after);
    let (bytes, by) = match &delegation {
        Some(envelope) => {
            let d = crate::delegate::within(envelope, &cert, &signing)?;
            (issue(envelope, cert, &signing), format!(", signed by issuer {} through delegation {}", d.issuer, d.id))
        }
        None => (seal(DocType::Certificate, &cert.encode(), &signing), String::new()),
    };
    let most = portvakt::ble::message::MAX_CERTIFICATE;
    if bytes.len() > most {
        bail!(
            "the certificate is {} bytes; a phone can carry at most {most} over BLE (a smaller --revocations list); nothing was written",
            bytes.len()
        );
    }
    write_new(&a.out, &bytes)?;
    Ok(format!("phone certificate {id} for {holder} valid until {until}{by}, written to {}\n", a.out.display()))
}

/// Doors as typed: separated by `,`, `;` or spaces.
pub(crate) fn door_list(text: &str) -> Vec<String> {
    text.split([',', ';', ' ']).map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect()
}
