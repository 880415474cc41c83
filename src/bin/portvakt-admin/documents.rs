//! Keys and signed documents on disk: make a key, build a bundle body from a CSV list,
//! sign it, inspect it, verify a signature.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use jiff::{SignedDuration, Timestamp};

use portvakt::admin::csv_import;
use portvakt::core::credential::Token;
use portvakt::core::hex;
use portvakt::core::secret::CredentialKey;
use portvakt::credentials::bundle::{Bundle, token_kind};
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::{DelegatedCertificate, Delegation};
use portvakt::credentials::envelope::{DocType, open, seal, signature_ok};
use portvakt::credentials::keys;
use portvakt::credentials::revocation::RevocationList;

pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

pub(crate) fn now_seconds() -> u64 {
    u64::try_from(Timestamp::now().as_second()).unwrap_or(0)
}

pub(crate) fn keygen(out: &Path, reading: bool) -> anyhow::Result<String> {
    let seed = keys::random_seed().context("the operating system's random source")?;
    let (private, public) = if reading {
        let (private, public) = portvakt_wire::personal::reading_pair(&seed);
        (private, portvakt::core::hex::encode(&public))
    } else {
        (seed, keys::public_hex(&ed25519_dalek::SigningKey::from_bytes(&seed)))
    };
    keys::write_private(out, &private)?;
    write_pub(out, &public)?;
    if reading {
        return Ok(format!(
            "reading key: {} (mode 600; keep it where your records are read)\n\
             public key:  {public} (the gateway's [[authorities]] reading_key)\n",
            out.display()
        ));
    }
    Ok(format!("private key: {} (mode 600; keep it offline)\npublic key:  {public}\n", out.display()))
}

/// Writes `<out>.pub` beside a private key file: what others are given of it.
pub(crate) fn write_pub(out: &Path, public: &str) -> anyhow::Result<()> {
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    std::fs::write(&pub_path, format!("{public}\n")).context("writing the .pub file")
}

/// The public half of a private key file: a signing key's, or a reading key's.
pub(crate) fn pubkey(key: &Path, reading: bool) -> anyhow::Result<String> {
    if !reading {
        return Ok(format!("{}\n", keys::public_hex(&keys::read_private(key)?)));
    }
    let private = keys::read_private_seed(key)?;
    let public = portvakt_wire::personal::reading_public(&private)
        .ok_or_else(|| anyhow!("{}: not a reading key", key.display()))?;
    Ok(format!("{}\n", portvakt::core::hex::encode(&public)))
}

/// The files a bundle is built from.
pub(crate) struct Inputs<'a> {
    /// Credentials.
    pub(crate) csv: &'a Path,
    /// Bookings.
    pub(crate) bookings: Option<&'a Path>,
    /// The owner's site policy.
    pub(crate) policy: Option<&'a Path>,
    /// The site's config, to check the bundle against the authority's grant.
    pub(crate) config: Option<&'a Path>,
}

/// Builds an unsigned bundle body from the files, checked against the grant when the
/// site's config is given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    authority: &str,
    site: &str,
    version: Option<u64>,
    (valid_days, reissue_every_days): (i64, i64),
    site_key: &Path,
    inputs: &Inputs<'_>,
    timezone: &str,
    out: &Path,
) -> anyhow::Result<String> {
    let Inputs { csv, bookings, policy, config } = *inputs;
    let tz =
        jiff::tz::TimeZone::get(timezone).map_err(|_| anyhow!("--timezone: \"{timezone}\" is not an IANA zone"))?;
    let key_text = std::fs::read_to_string(site_key).with_context(|| format!("reading {}", site_key.display()))?;
    let key = CredentialKey::from_hex(&key_text).with_context(|| format!("{}", site_key.display()))?;
    let text = std::fs::read_to_string(csv).with_context(|| format!("reading {}", csv.display()))?;
    let report = |path: &Path, problems: Vec<csv_import::RowProblem>| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {}: {p}", path.display())).collect();
        anyhow!("{} problem(s); no bundle was written:\n{}", problems.len(), lines.join("\n"))
    };
    let entries = csv_import::entries(&text, &key, &tz).map_err(|p| report(csv, p))?;
    let bookings = match bookings {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            csv_import::bookings(&text, &tz).map_err(|e| report(p, e))?
        }
        None => Vec::new(),
    };
    let policy = match policy {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let parsed = portvakt::config::owner_policy(&text).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(|q| format!("  {}: {q}", p.display())).collect();
                anyhow!("{} problem(s); no bundle was written:\n{}", problems.len(), lines.join("\n"))
            })?;
            Some(parsed)
        }
        None => None,
    };
    // The body keeps milliseconds; so does what is printed of it.
    let issued_at = Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| Timestamp::now());
    let bundle = Bundle {
        authority: authority.into(),
        site: site.into(),
        version: version.unwrap_or_else(now_seconds),
        issued_at,
        not_after: issued_at + SignedDuration::from_hours(valid_days.saturating_mul(24)),
        entries,
        bookings,
        policy,
    };
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let grant = portvakt::config::site_grant(&text, authority).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let refused = portvakt::admin::bundle_check::refusals(&grant, &bundle);
        if !refused.is_empty() {
            bail!(
                "{} problem(s) the gateway would refuse the bundle for (its grant in {}); no bundle was written:\n  {}",
                refused.len(),
                path.display(),
                refused.join("\n  ")
            );
        }
    }
    write_new(out, &bundle.encode())?;
    for w in portvakt::admin::lifetime::warnings(valid_days, reissue_every_days) {
        eprintln!("warning: {w}");
    }
    Ok(format!(
        "bundle body for {authority} at {site}, version {}: {} credential(s), {} booking(s), expires {}\nwritten to {} (unsigned: sign it with `portvakt-admin bundle sign`)\n",
        bundle.version,
        bundle.entries.len(),
        bundle.bookings.len(),
        bundle.not_after,
        out.display()
    ))
}

pub(crate) fn sign(input: &Path, key: &Path, out: &Path) -> anyhow::Result<String> {
    let body = read(input)?;
    let bundle = Bundle::decode(&body).map_err(|e| anyhow!("{} is not a bundle body: {e}", input.display()))?;
    let signing = keys::read_private(key)?;
    write_new(out, &seal(DocType::Bundle, &body, &signing))?;
    Ok(format!(
        "signed bundle of {} version {} with key {}…\nwritten to {}\n",
        bundle.authority,
        bundle.version,
        &keys::public_hex(&signing)[..16],
        out.display()
    ))
}

pub(crate) fn inspect(file: &Path, json: bool) -> anyhow::Result<String> {
    let bytes = read(file)?;
    let (body, signed) = match open(&bytes) {
        Ok(env) if env.doc_type == DocType::Bundle => (env.body.to_vec(), true),
        Ok(env) => bail!("{} is a {}, not a bundle", file.display(), env.doc_type.word()),
        Err(_) => (bytes.clone(), false),
    };
    let b = Bundle::decode(&body).map_err(|e| anyhow!("{} is not a bundle: {e}", file.display()))?;
    if json {
        let entries: Vec<serde_json::Value> = b
            .entries
            .iter()
            .map(|e| {
                let token = match &e.token {
                    Token::Phone(k) => hex::encode(&k.0),
                    Token::Pin(d) | Token::Tag(d) => hex::encode(&d.0),
                };
                serde_json::json!({
                    "id": e.id, "holder": e.holder, "role": e.role, "kind": token_kind(&e.token), "token": token,
                    "doors": e.doors, "schedule": e.schedule,
                    "valid_from": e.valid_from.map(|t| t.to_string()), "valid_until": e.valid_until.map(|t| t.to_string()),
                })
            })
            .collect();
        let v = serde_json::json!({
            "signed": signed, "authority": b.authority, "site": b.site, "version": b.version,
            "issued_at": b.issued_at.to_string(), "not_after": b.not_after.to_string(), "entries": entries,
            "bookings": b.bookings.iter().map(|k| serde_json::json!({"holder": k.holder, "door": k.door, "start": k.start.to_string(), "end": k.end.to_string()})).collect::<Vec<_>>(),
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&v)?));
    }
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for e in &b.entries {
        *kinds.entry(format!("{} {}", e.role, token_kind(&e.token))).or_default() += 1;
    }
    let mut out = format!(
        "{} bundle of {} for site {}, version {}\nissued {}, expires {}\n{} credential(s), {} booking(s)\n",
        if signed { "signed (signature not checked: use `verify`)" } else { "unsigned" },
        b.authority,
        b.site,
        b.version,
        b.issued_at,
        b.not_after,
        b.entries.len(),
        b.bookings.len()
    );
    for (k, n) in kinds {
        let _ = writeln!(out, "  {n:>6}  {k}");
    }
    Ok(out)
}

pub(crate) fn public_key_arg(arg: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode32(arg)
        .or_else(|| std::fs::read_to_string(arg).ok().and_then(|t| hex::decode32(&t)))
        .ok_or_else(|| anyhow!("--public-key: neither 64 hex digits nor a file holding them"))
}

pub(crate) fn verify(file: &Path, public_key: &str) -> anyhow::Result<String> {
    let key = public_key_arg(public_key)?;
    let bytes = read(file)?;
    let env = open(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if !signature_ok(&env, &key) {
        bail!(
            "{}: the signature does NOT verify with this key: forged, altered, or another authority's",
            file.display()
        );
    }
    let what = match env.doc_type {
        DocType::Bundle => Bundle::decode(env.body).map(|b| {
            format!(
                "bundle of {} for {}, version {}, {} credential(s)",
                b.authority,
                b.site,
                b.version,
                b.entries.len()
            )
        }),
        DocType::Revocations => RevocationList::decode(env.body).map(|r| {
            format!(
                "revocation list of {} for {}, sequence {}, {} id(s), {} key(s)",
                r.authority,
                r.site,
                r.sequence,
                r.ids.len(),
                r.keys.len()
            )
        }),
        DocType::Certificate => PhoneCertificate::decode(env.body).map(|c| {
            format!("phone certificate {} for {} ({}), {} to {}", c.id, c.holder, c.role, c.not_before, c.not_after)
        }),
        DocType::Delegation => Delegation::decode(env.body).map(|d| {
            format!(
                "delegation {} of {} to issuer {}: roles {}, doors {}, certificates up to {:#}, {} to {}",
                d.id,
                d.authority,
                d.issuer,
                d.roles.join(", "),
                d.doors.join(", "),
                d.max_certificate,
                d.not_before,
                d.not_after
            )
        }),
        DocType::DelegatedCertificate => DelegatedCertificate::decode(env.body).map(|d| {
            let c = d.certificate;
            format!(
                "phone certificate {} for {} ({}), {} to {}, signed by a delegated issuer (check the delegation \
                 inside against the authority's key with the gateway, or `verify` it separately)",
                c.id, c.holder, c.role, c.not_before, c.not_after
            )
        }),
        DocType::IssuerRevocations => portvakt::credentials::revocation::IssuerRevocations::decode(env.body).map(|d| {
            let r = d.list;
            format!(
                "an issuer's revocation list of {} for {}, sequence {}, {} id(s), {} key(s), signed by a delegated \
                 issuer (it ends certificates signed through its delegation only)",
                r.authority,
                r.site,
                r.sequence,
                r.ids.len(),
                r.keys.len()
            )
        }),
        DocType::Command | DocType::Ack | DocType::Checkpoint => Ok(String::from_utf8_lossy(env.body).into_owned()),
    }
    .map_err(|e| anyhow!("{}: signed, but the body is malformed: {e}", file.display()))?;
    Ok(format!("{}: signature OK: {what}\n", file.display()))
}
