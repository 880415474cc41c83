//! From the workspace to the gateways: plan each site's next bundle (the next version,
//! built from the whole state) with its diff against the last one issued, refuse an empty
//! or suspicious change unless told otherwise, sign, deliver to the site's inbox folder
//! or another folder (MQTT delivery is in `mqtt_delivery`), and only then record it as
//! issued. The revocation list goes with it whenever `revoked.toml` changed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use jiff::Timestamp;

use super::diff::{Diff, diff};
use super::policy_file::PolicyFile;
use super::{Workspace, WorkspaceError, files};
use crate::core::hex;
use crate::credentials::bundle::Bundle;
use crate::credentials::envelope::{DocType, open, seal};
use crate::credentials::revocation::RevocationList;

/// Why nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The workspace's files.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The state cannot make a bundle.
    #[error("{site}: {} problem(s); nothing was signed:\n  {}", problems.len(), problems.join("\n  "))]
    Problems {
        /// The site.
        site: String,
        /// Each problem.
        problems: Vec<String>,
    },
    /// The change was refused.
    #[error("{site}: {reason}; nothing was signed")]
    Refused {
        /// The site.
        site: String,
        /// Why, and how to say it is meant.
        reason: String,
    },
    /// A last issued bundle that cannot be read.
    #[error("{}: {message}", path.display())]
    Issued {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One site's next bundle, not yet signed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The site.
    pub site: String,
    /// The bundle.
    pub bundle: Bundle,
    /// The owner's hours it carries, as written.
    pub policy: PolicyFile,
    /// Against the last issued one.
    pub diff: Diff,
    /// The last issued version, if any.
    pub last_version: Option<u64>,
    /// Bookings that look like mistakes (`Workspace::warnings_at`) not accepted before.
    pub warnings: Vec<String>,
    /// Every such warning now, accepted before or not (kept with what is issued, so an
    /// accepted one is not said again while it stays the same).
    pub all_warnings: Vec<String>,
}

/// What may be published besides an ordinary change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// Re-issue an unchanged state (a new expiry).
    pub unchanged: bool,
    /// A change that looks like a mistake.
    pub suspicious: bool,
    /// Bookings with warnings (overlapping, closed, unusable).
    pub warnings: bool,
}

fn now_seconds(now: Timestamp) -> u64 {
    u64::try_from(now.as_second()).unwrap_or(0)
}

/// Reads a bundle as issued (signed).
pub fn read_issued(path: &Path) -> Result<Option<Bundle>, PublishError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WorkspaceError::Io { path: path.into(), source: e }.into()),
    };
    let bad = |m: String| PublishError::Issued { path: path.into(), message: m };
    let env = open(&bytes).map_err(|e| bad(e.to_string()))?;
    Bundle::decode(env.body).map(Some).map_err(|e| bad(e.to_string()))
}

impl Workspace {
    /// The warnings said and accepted when `site`'s last bundle was issued.
    fn accepted_warnings_path(&self, site: &str) -> PathBuf {
        self.dir.join("issued").join(format!("{site}.warnings"))
    }

    fn issued_policy_path(&self, site: &str) -> PathBuf {
        self.dir.join("issued").join(format!("{site}.policy.toml"))
    }

    /// The next bundle for `site`, with what it changes.
    pub fn plan(&self, site: &str, now: Timestamp) -> Result<Plan, PublishError> {
        let last = read_issued(&self.issued_path(site))?;
        let last_policy: PolicyFile = files::read_optional(&self.issued_policy_path(site))?.unwrap_or_default();
        let now = now.round(jiff::Unit::Millisecond).unwrap_or(now);
        let version = last.as_ref().map_or(0, |b| b.version + 1).max(now_seconds(now));
        let bundle = self
            .site_bundle(site, version, now)
            .map_err(|problems| PublishError::Problems { site: site.into(), problems })?;
        let policy =
            if self.is_owner() { self.policies.get(site).cloned().unwrap_or_default() } else { PolicyFile::default() };
        let diff = diff(last.as_ref().map(|b| (b, &last_policy)), (&bundle, &policy), now, &self.timezone());
        let all_warnings = self.warnings_at(site, now);
        let accepted = std::fs::read_to_string(self.accepted_warnings_path(site)).unwrap_or_default();
        let warnings = all_warnings.iter().filter(|w| !accepted.lines().any(|a| a == w.as_str())).cloned().collect();
        let last_version = last.map(|b| b.version);
        Ok(Plan { site: site.into(), bundle, policy, diff, last_version, warnings, all_warnings })
    }

    /// The revocation list to send, when `revoked.toml` differs from the last one issued.
    pub fn revocations_due(&self, now: Timestamp) -> Result<Option<RevocationList>, PublishError> {
        let path = self.issued_revocations_path();
        let last = match std::fs::read(&path) {
            Ok(bytes) => {
                let bad = |m: String| PublishError::Issued { path: path.clone(), message: m };
                let env = open(&bytes).map_err(|e| bad(e.to_string()))?;
                Some(RevocationList::decode(env.body).map_err(|e| bad(e.to_string()))?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(WorkspaceError::Io { path, source: e }.into()),
        };
        let ids: BTreeSet<String> = self.revoked.ids.iter().cloned().collect();
        let keys: BTreeSet<[u8; 32]> = self.revoked.phone_keys.iter().filter_map(|k| hex::decode32(k)).collect();
        let same = last.as_ref().is_some_and(|l| {
            l.ids.iter().cloned().collect::<BTreeSet<_>>() == ids
                && l.keys.iter().copied().collect::<BTreeSet<_>>() == keys
        }) || (last.is_none() && ids.is_empty() && keys.is_empty());
        if same {
            return Ok(None);
        }
        Ok(Some(RevocationList {
            authority: self.settings.authority.clone(),
            site: "*".into(),
            sequence: last.map_or(0, |l| l.sequence + 1).max(now_seconds(now)),
            issued_at: now,
            ids: ids.into_iter().collect(),
            keys: keys.into_iter().collect(),
        }))
    }
}

/// Refuses what `allow` does not cover: an unchanged state, a suspicious change.
pub fn check(plan: &Plan, allow: Allow) -> Result<(), PublishError> {
    if plan.diff.is_empty() && plan.last_version.is_some() && !allow.unchanged {
        return Err(PublishError::Refused {
            site: plan.site.clone(),
            reason: "nothing changed since the last bundle (to re-issue it with a new expiry anyway: --renew)".into(),
        });
    }
    if !plan.diff.suspicious.is_empty() && !allow.suspicious {
        return Err(PublishError::Refused {
            site: plan.site.clone(),
            reason: format!(
                "this looks like a mistake: {} (if it is meant: --allow-large-change)",
                plan.diff.suspicious.join("; ")
            ),
        });
    }
    if !plan.warnings.is_empty() && !allow.warnings {
        return Err(PublishError::Refused {
            site: plan.site.clone(),
            reason: format!("{} warning(s) above (if they are meant: --accept-warnings)", plan.warnings.len()),
        });
    }
    Ok(())
}

/// A signed document and the name it is delivered under.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `owner-storgatan-12-1764000000.pvkt`.
    pub name: String,
    /// The `PVKT` envelope.
    pub bytes: Vec<u8>,
}

/// Signs a planned bundle.
pub fn sign_bundle(plan: &Plan, key: &SigningKey) -> Signed {
    let b = &plan.bundle;
    Signed {
        name: format!("{}-{}-{}.pvkt", b.authority, b.site, b.version),
        bytes: seal(DocType::Bundle, &b.encode(), key),
    }
}

/// Signs a revocation list.
pub fn sign_revocations(list: &RevocationList, key: &SigningKey) -> Signed {
    Signed {
        name: format!("{}-revocations-{}.pvkt", list.authority, list.sequence),
        bytes: seal(DocType::Revocations, &list.encode(), key),
    }
}

/// Drops a document into a folder (a gateway's inbox): written under a dot name, then
/// renamed, so the gateway never reads half a file. Mode 644: the gateway's daemon runs
/// as its own user; the inbox folder's mode keeps others out.
pub fn deliver_to_folder(folder: &Path, doc: &Signed) -> Result<PathBuf, WorkspaceError> {
    let io = |e| WorkspaceError::Io { path: folder.into(), source: e };
    if !folder.is_dir() {
        return Err(io(std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder")));
    }
    let path = folder.join(&doc.name);
    files::write_with_mode(&path, &doc.bytes, 0o644)?;
    Ok(path)
}

impl Workspace {
    /// Records a delivered bundle as the site's last issued one.
    pub fn record_issued(&self, plan: &Plan, doc: &Signed) -> Result<(), WorkspaceError> {
        let mut accepted = plan.all_warnings.join("\n");
        accepted.push('\n');
        files::write_bytes(&self.accepted_warnings_path(&plan.site), accepted.as_bytes())?;
        let version = self.issued_version_path(&plan.site, plan.bundle.version);
        files::write_bytes(&version, &doc.bytes)?;
        files::write(&version.with_extension("policy.toml"), super::HEADER, &plan.policy)?;
        files::write(&self.issued_policy_path(&plan.site), super::HEADER, &plan.policy)?;
        files::write_bytes(&self.issued_path(&plan.site), &doc.bytes)
    }

    /// Records a delivered revocation list.
    pub fn record_revocations(&self, doc: &Signed) -> Result<(), WorkspaceError> {
        files::write_bytes(&self.issued_revocations_path(), &doc.bytes)
    }
}
