//! `delegate`: an authority lets an issuer key (Portvakt Central's, say) sign phone
//! certificates within limits, so the authority's own key stays offline; checked first
//! against the authority's grant like a certificate of the longest lifetime it allows.
//! Also what the issuer's side of `certify --delegation` checks, and `keygen --p256`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};

use portvakt::core::hex;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::{DEFAULT_MAX_CERTIFICATE, Delegation};
use portvakt::credentials::envelope::{DocType, open, seal};
use portvakt::credentials::keys;
use portvakt_phone::PhoneSecret;

use crate::certify::{Asked, check_grant, door_list};
use crate::documents::write_new;

/// `delegate`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DelegateArgs {
    /// The delegating authority's id.
    #[arg(long)]
    authority: String,
    /// The delegation's id, unique among the authority's credentials (revoke by it).
    #[arg(long)]
    id: String,
    /// The issuer's name, as audit records will show it.
    #[arg(long)]
    issuer: String,
    /// The issuer's Ed25519 public key (64 hex digits, or a `.pub` file holding them).
    #[arg(long)]
    issuer_key: String,
    /// The site, or * for every site trusting the authority.
    #[arg(long, default_value = "*")]
    site: String,
    /// Roles the issuer may give, separated by `,`.
    #[arg(long)]
    roles: String,
    /// Doors the issuer may grant, separated by `,` or `;`, or * for the authority's scope.
    #[arg(long, default_value = "*")]
    doors: String,
    /// The longest certificate the issuer may sign, in hours (a shift: 12).
    #[arg(long, default_value_t = 12)]
    max_hours: i64,
    /// Days the delegation holds from now.
    #[arg(long, default_value_t = 90)]
    valid_days: i64,
    /// The authority's private key.
    #[arg(long)]
    key: PathBuf,
    /// The site's config, to check the delegation against the authority's grant there.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the delegation.
    #[arg(long)]
    out: PathBuf,
}

/// Checks, signs and writes the delegation.
pub(crate) fn run(a: DelegateArgs, workspace: &Path) -> anyhow::Result<String> {
    let issuer_key = crate::documents::public_key_arg(&a.issuer_key).map_err(|_| {
        anyhow!("--issuer-key: neither 64 hex digits nor a file holding them (the issuer's keygen .pub)")
    })?;
    if a.id.parse::<portvakt::core::ids::CredentialId>().is_err() {
        bail!("--id {:?}: a credential id (a-z 0-9 - _), since it is revoked like one", a.id);
    }
    if a.issuer.is_empty() || a.issuer.len() > 64 || a.issuer.chars().any(char::is_control) {
        bail!("--issuer: 1 to 64 characters, no control characters");
    }
    let roles: Vec<String> = a.roles.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect();
    if roles.is_empty() {
        bail!("--roles: name at least one role the issuer may give");
    }
    if !(1..=24).contains(&a.max_hours) {
        bail!("--max-hours {}: 1 to 24 (a shift is at most 12 h unless you mean more)", a.max_hours);
    }
    if !(1..=366).contains(&a.valid_days) {
        bail!("--valid-days {}: 1 to 366", a.valid_days);
    }
    let doors = door_list(&a.doors);
    // Whatever it issues, the gateway holds against the authority's own grant too: refuse
    // here what no certificate through it could ever pass.
    for role in &roles {
        let asked = Asked { authority: &a.authority, site: &a.site, role, doors: &doors, hours: a.max_hours };
        check_grant(&asked, a.config.as_deref(), workspace)?;
    }
    let not_before = Timestamp::now() - SignedDuration::from_mins(5);
    let d = Delegation {
        authority: a.authority,
        id: a.id,
        issuer: a.issuer,
        issuer_key,
        site: a.site,
        roles,
        doors,
        max_certificate: SignedDuration::from_hours(a.max_hours),
        not_before,
        not_after: not_before + SignedDuration::from_hours(24 * a.valid_days),
    };
    let signing = keys::read_private(&a.key)?;
    write_new(&a.out, &seal(DocType::Delegation, &d.encode(), &signing))?;
    let note = if d.max_certificate > DEFAULT_MAX_CERTIFICATE { " (longer than a 12 h shift)" } else { "" };
    Ok(format!(
        "delegation {} to {}: roles {}, doors {}, certificates up to {} h{note}, until {}; written to {}\n",
        d.id,
        d.issuer,
        d.roles.join(", "),
        d.doors.join(", "),
        a.max_hours,
        d.not_after,
        a.out.display()
    ))
}

/// Refuses a certificate its delegation does not allow (as the gateway would), or an
/// issuer key that is not the delegation's; returns the delegation.
pub(crate) fn within(envelope: &[u8], cert: &PhoneCertificate, issuer: &SigningKey) -> anyhow::Result<Delegation> {
    let env = open(envelope).map_err(|e| anyhow!("--delegation: {e}"))?;
    if env.doc_type != DocType::Delegation {
        bail!("--delegation: this is a {}, not a delegation", env.doc_type.word());
    }
    let d = Delegation::decode(env.body).map_err(|e| anyhow!("--delegation: {e}"))?;
    if issuer.verifying_key().to_bytes() != d.issuer_key {
        bail!("--key is not the issuer key delegation {} names; nothing was signed", d.id);
    }
    let problem = if cert.authority != d.authority {
        Some(format!("it is {}'s delegation, not {}'s", d.authority, cert.authority))
    } else if !d.roles.contains(&cert.role) {
        Some(format!("role {} is not among {}", cert.role, d.roles.join(", ")))
    } else if let Some(door) = cert.doors.iter().find(|door| !d.covers_door(door)) {
        Some(format!("door {door} is not among {}", d.doors.join(", ")))
    } else if cert.not_after.duration_since(cert.not_before) > d.max_certificate {
        Some(format!("it allows certificates of at most {:#}", d.max_certificate))
    } else if cert.not_after > d.not_after || cert.not_before < d.not_before {
        Some(format!("it holds from {} until {}", d.not_before, d.not_after))
    } else {
        None
    };
    match problem {
        Some(why) => bail!("delegation {}: {why}; nothing was signed", d.id),
        None => Ok(d),
    }
}

/// `keygen --p256`: a P-256 phone key (PKCS#8, hexadecimal, mode 600) and its id in `.pub`.
pub(crate) fn keygen_p256(out: &Path) -> anyhow::Result<String> {
    let (key, pkcs8) = PhoneSecret::generate_p256()?;
    keys::write_private_bytes(out, &pkcs8)?;
    let public = key.public();
    let id = hex::encode(&public.id());
    crate::documents::write_pub(out, &id)?;
    let full = match public {
        portvakt_phone::PhonePublicKey::P256(k) => hex::encode(&k),
        portvakt_phone::PhonePublicKey::Ed25519(k) => hex::encode(&k),
    };
    Ok(format!(
        "P-256 phone key: {} (mode 600)\nkey id:     {id} (what certificates and allowlists name)\npublic key: {full}\n",
        out.display()
    ))
}
