//! The workspace's files as a person reads them: `workspace.toml` (the authority and its
//! sites), `holders.toml`, `groups.toml`, `bookings.toml`, `revoked.toml`, and per site
//! `policy/<site>.toml` (the owner's hours) and `base/<site>.toml` (the site config's own,
//! as imported). Each is read strictly (an unknown key is a mistake, named with its file)
//! and written whole through a temporary file and a rename, so a crash never leaves half
//! a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::WorkspaceError;

/// `workspace.toml`: who issues, with which key, for which sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The authority's id, as in the gateways' `[[authorities]]`.
    pub authority: String,
    /// `owner`, `municipality` or `contractor`: only the owner sends bookings and hours.
    pub class: String,
    /// The authority's private key (relative paths are read from the workspace).
    pub key: PathBuf,
    /// The zone local times are written in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// How long each bundle stays valid, in days.
    #[serde(default = "default_valid_days")]
    pub valid_days: i64,
    /// How often bundles are re-issued, in days (`renew` re-issues older ones).
    #[serde(default = "default_reissue_days")]
    pub reissue_every_days: i64,
    /// The sites this authority issues for.
    #[serde(default)]
    pub sites: BTreeMap<String, SiteSettings>,
}

fn default_timezone() -> String {
    "Europe/Stockholm".into()
}
fn default_valid_days() -> i64 {
    30
}
fn default_reissue_days() -> i64 {
    7
}

/// One site in `workspace.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// The site's credential key (shared with the site), to hash PINs and tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_key: Option<PathBuf>,
    /// The site's doors, as imported from its config (empty: not known, not checked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doors: Vec<String>,
    /// The site's roles, as imported from its config (empty: not known, not checked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// For each door, the rules of its config: which roles it admits, when, and whether
    /// with a booking.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Vec<RuleSpec>>,
    /// Each door's booking grace in minutes, before and after a slot, as imported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub booking_grace: BTreeMap<String, [i64; 2]>,
    /// The site's holiday calendar, as imported from its config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<HolidaysSpec>,
    /// What the owner granted this authority at the site, as imported from its config
    /// (absent: not known, not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantSpec>,
    /// A gateway inbox folder (mounted, or on this machine) bundles are delivered to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<PathBuf>,
    /// The broker bundles are published to, retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<MqttDelivery>,
}

/// One rule of a door, as in the site config's `access`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The role it admits.
    pub role: String,
    /// The schedule it admits it in (absent: at all times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Whether it needs a booking.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub booking: bool,
}

/// The site config's `[holidays]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaysSpec {
    /// `sweden` or `none`.
    pub calendar: String,
    /// Whether eves (midsummer's, Christmas, New Year's) count.
    pub eves: bool,
    /// Further dates (`2026-06-05`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

/// What the owner granted this authority at one site (the site config's
/// `[[authorities]]` entry, with its class's defaults written out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// The doors it may grant.
    pub doors: Vec<String>,
    /// The roles it may give (absent: every role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The signed commands it may send (`door.pulse`, `audit.query`, `reload`).
    #[serde(default)]
    pub commands: Vec<String>,
    /// The door modes it may set.
    #[serde(default)]
    pub modes: Vec<String>,
    /// The longest phone certificate it may issue, in hours.
    pub max_certificate_hours: i64,
    /// The longest bundle it may issue, in hours.
    pub max_bundle_hours: i64,
    /// Whether its bundles may carry bookings.
    pub bookings: bool,
}

/// Delivery over MQTT, with the authority's client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttDelivery {
    /// `mqtts://host:8883` (plain `mqtt://` only to a loopback test broker).
    pub broker: String,
    /// The topic prefix's root (the gateway's `uplink.topic_root`).
    #[serde(default = "default_root")]
    pub topic_root: String,
    /// CA certificate(s), PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The authority's client certificate, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Its private key, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

fn default_root() -> String {
    "portvakt".into()
}

/// Doors per site: `{ storgatan-12 = ["entrance", "rubbish"] }`.
pub type Access = BTreeMap<String, Vec<String>>;

/// `holders.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldersFile {
    /// Holders by id.
    #[serde(default)]
    pub holders: BTreeMap<String, Holder>,
}

/// A person (or a role account) and what they carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// Their name as people write it (`Åsa Öberg`); the id stays what the gateway sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their role (`resident`, `home_care`, …).
    pub role: String,
    /// The team or apartment they belong to, whose doors they also get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Doors of their own, per site.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub access: Access,
    /// An extra schedule their credentials are limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Not valid before (local time or RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Not valid from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Their tags, PINs and phone keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialSpec>,
}

/// One tag, PIN or phone key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    /// The credential's id (unique in the workspace; a revoked id is never reused).
    pub id: String,
    /// `tag`, `pin` or `phone`.
    pub kind: String,
    /// A tag's UID (`04:A2:19:7F`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// A phone's public key, 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_key: Option<String>,
    /// A PIN, never in clear: its digest under each site's key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pin_digests: BTreeMap<String, String>,
    /// Fewer doors than the holder's (empty: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doors: Vec<String>,
}

/// `groups.toml`: teams (staff) or apartments (residents).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsFile {
    /// Groups by id.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
}

/// A team or an apartment: doors given once for all its members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// What people call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its doors, per site.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub access: Access,
}

/// `bookings.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingsFile {
    /// Every booking, in start order.
    #[serde(default)]
    pub bookings: Vec<BookingSpec>,
}

/// One booked slot, for a holder or for every member of a group (an apartment).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSpec {
    /// Start, local time (`2026-12-10T07:00`).
    pub start: String,
    /// End.
    pub end: String,
    /// The site.
    pub site: String,
    /// The door.
    pub door: String,
    /// Who booked: a holder…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// …or a group (every member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The booking system's id (an iCalendar `UID`), so an import again replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// `revoked.toml`: ids and phone keys this authority has revoked (kept: a revocation list
/// replaces the previous one whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedFile {
    /// Credential and certificate ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Phone keys, 64 hex digits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_keys: Vec<String>,
}

/// Reads a TOML file; `None` when it does not exist.
pub fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, WorkspaceError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WorkspaceError::Io { path: path.into(), source: e }),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| WorkspaceError::Malformed { path: path.into(), message: e.to_string().trim_end().to_owned() })
}

/// Writes `value` as TOML through a temporary file and a rename.
pub fn write<T: Serialize>(path: &Path, header: &str, value: &T) -> Result<(), WorkspaceError> {
    let body = toml::to_string(value).map_err(|e| WorkspaceError::Malformed {
        path: path.into(),
        message: format!("cannot be written as TOML: {e}"),
    })?;
    write_bytes(path, format!("{header}{body}").as_bytes())
}

/// Writes bytes through a temporary file in the same folder and a rename. The file is
/// readable by its owner only (mode 600): the workspace holds personal data (who lives
/// and works where, tag UIDs, bookings).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), WorkspaceError> {
    write_with_mode(path, bytes, 0o600)
}

/// Writes bytes through a temporary file and a rename, with `mode`.
pub fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WorkspaceError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |e| WorkspaceError::Io { path: path.into(), source: e };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
