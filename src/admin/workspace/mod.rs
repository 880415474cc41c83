//! An authority's workspace: its desired state (holders and their credentials, teams or
//! apartments, bookings, the owner's hours) in readable files a person can keep under
//! version control, and the last bundle issued to each site. Verbs change one thing
//! (`edit`); `build` makes each site's complete bundle from the whole state, `diff` says
//! what changes against the last one issued, `publish` signs and delivers it. Layout and
//! use: `docs/owner.md`.

pub mod bookings;
pub mod build;
mod checks;
pub mod diff;
pub mod edit;
pub mod files;
pub mod grant;
pub mod hours;
pub mod ical;
pub mod import;
mod import_csv;
pub mod in_force;
pub mod mqtt_delivery;
pub mod policy_file;
pub mod publish;
#[cfg(test)]
mod state_tests;
mod warnings;

use std::path::{Path, PathBuf};

use files::{BookingsFile, GroupsFile, HoldersFile, RevokedFile, Settings};
use policy_file::PolicyFile;

/// What went wrong with the workspace's files.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file that is not what it should be.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
    /// No workspace here.
    #[error("{} is not a workspace (no workspace.toml): make one with `portvakt-admin init`", dir.display())]
    Missing {
        /// The folder.
        dir: PathBuf,
    },
}

/// The header written at the top of each file.
const HEADER: &str = "# Kept by portvakt-admin (docs/owner.md). You may edit it by hand; the commands rewrite\n\
                      # it whole, without comments. Keep the folder under version control.\n\n";

/// The whole desired state, read from a folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The folder.
    pub dir: PathBuf,
    /// `workspace.toml`.
    pub settings: Settings,
    /// `holders.toml`.
    pub holders: HoldersFile,
    /// `groups.toml`.
    pub groups: GroupsFile,
    /// `bookings.toml`.
    pub bookings: BookingsFile,
    /// `revoked.toml`.
    pub revoked: RevokedFile,
    /// `policy/<site>.toml` per site (owner only).
    pub policies: std::collections::BTreeMap<String, PolicyFile>,
    /// `base/<site>.toml` per site: the config's own schedules, as imported.
    pub bases: std::collections::BTreeMap<String, PolicyFile>,
}

impl Workspace {
    /// A new workspace's state (not yet written).
    pub fn new(dir: &Path, settings: Settings) -> Self {
        Workspace {
            dir: dir.into(),
            settings,
            holders: HoldersFile::default(),
            groups: GroupsFile::default(),
            bookings: BookingsFile::default(),
            revoked: RevokedFile::default(),
            policies: std::collections::BTreeMap::new(),
            bases: std::collections::BTreeMap::new(),
        }
    }

    /// Reads every file of the workspace in `dir`.
    pub fn load(dir: &Path) -> Result<Self, WorkspaceError> {
        let settings: Settings = files::read_optional(&dir.join("workspace.toml"))?
            .ok_or_else(|| WorkspaceError::Missing { dir: dir.into() })?;
        let mut ws = Workspace::new(dir, settings);
        ws.holders = files::read_optional(&dir.join("holders.toml"))?.unwrap_or_default();
        ws.groups = files::read_optional(&dir.join("groups.toml"))?.unwrap_or_default();
        ws.bookings = files::read_optional(&dir.join("bookings.toml"))?.unwrap_or_default();
        ws.revoked = files::read_optional(&dir.join("revoked.toml"))?.unwrap_or_default();
        for site in ws.settings.sites.keys() {
            if let Some(p) = files::read_optional(&ws.policy_path(site))? {
                ws.policies.insert(site.clone(), p);
            }
            if let Some(b) = files::read_optional(&ws.base_path(site))? {
                ws.bases.insert(site.clone(), b);
            }
        }
        Ok(ws)
    }

    /// Writes every file (each whole, through a rename).
    pub fn save(&self) -> Result<(), WorkspaceError> {
        files::write(&self.dir.join("workspace.toml"), HEADER, &self.settings)?;
        files::write(&self.dir.join("holders.toml"), HEADER, &self.holders)?;
        files::write(&self.dir.join("groups.toml"), HEADER, &self.groups)?;
        files::write(&self.dir.join("bookings.toml"), HEADER, &self.bookings)?;
        files::write(&self.dir.join("revoked.toml"), HEADER, &self.revoked)?;
        for (site, p) in &self.policies {
            files::write(&self.policy_path(site), HEADER, p)?;
        }
        for (site, b) in &self.bases {
            files::write(&self.base_path(site), HEADER, b)?;
        }
        Ok(())
    }

    /// A path from the workspace's files: relative ones are read from its folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.into() } else { self.dir.join(path) }
    }

    /// The owner's hours for `site`.
    pub fn policy_path(&self, site: &str) -> PathBuf {
        self.dir.join("policy").join(format!("{site}.toml"))
    }

    /// The site config's own schedules, as imported.
    pub fn base_path(&self, site: &str) -> PathBuf {
        self.dir.join("base").join(format!("{site}.toml"))
    }

    /// Where the last issued bundle for `site` is kept.
    pub fn issued_path(&self, site: &str) -> PathBuf {
        self.dir.join("issued").join(format!("{site}.pvkt"))
    }

    /// Where each issued version is kept, to compare with what a gateway has in force.
    pub fn issued_version_path(&self, site: &str, version: u64) -> PathBuf {
        self.dir.join("issued").join(site).join(format!("{version}.pvkt"))
    }

    /// Where the last issued revocation list is kept.
    pub fn issued_revocations_path(&self) -> PathBuf {
        self.dir.join("issued").join("revocations.pvkt")
    }

    /// The time zone local times are read in.
    pub fn timezone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.settings.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Whether this authority is the site's owner (who alone sends bookings and hours).
    pub fn is_owner(&self) -> bool {
        self.settings.class == "owner"
    }
}
