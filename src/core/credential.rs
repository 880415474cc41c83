//! Credentials as the core sees them: a token (PIN digest, tag digest or phone public
//! key) bound to a holder, a role, a set of doors, an optional schedule and a validity
//! window. Specs name things by id; [`super::allowlist::Allowlist::build`] resolves them.

use std::fmt;

use jiff::Timestamp;

use super::ids::{AuthorityId, CredentialId, DoorId, HolderId, RoleId, ScheduleId};
use super::model::{DoorSet, RoleIdx, ScheduleIdx};
use super::secret::Digest;

/// An Ed25519 public key of a staff phone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneKey(pub [u8; 32]);

impl fmt::Debug for PhoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneKey({})", self.short())
    }
}

impl PhoneKey {
    /// The first 8 bytes in hexadecimal: a key id people can read out.
    pub fn short(&self) -> String {
        super::hex::encode(&self.0[..8])
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        super::hex::decode32(s).map(Self)
    }
}

/// What a reader presents and what a credential consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    /// A PIN typed on a keypad (also how the shared door code arrives).
    Pin(Digest),
    /// A tag read by the panel's reader.
    Tag(Digest),
    /// A phone that proved possession of this key.
    Phone(PhoneKey),
}

/// The kind of a token, for policies and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Personal PIN.
    Pin,
    /// Tag.
    Tag,
    /// Phone key.
    Phone,
    /// The shared building door code.
    DoorCode,
}

impl Token {
    /// The kind of token.
    pub fn kind(&self) -> TokenKind {
        match self {
            Self::Pin(_) => TokenKind::Pin,
            Self::Tag(_) => TokenKind::Tag,
            Self::Phone(_) => TokenKind::Phone,
        }
    }
}

/// A credential as issued, with names still unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSpec {
    /// Its id.
    pub id: CredentialId,
    /// Who holds it.
    pub holder: HolderId,
    /// The holder's role.
    pub role: RoleId,
    /// The token.
    pub token: Token,
    /// The doors it opens.
    pub doors: Vec<DoorId>,
    /// An extra schedule of its own, on top of the doors' rules.
    pub schedule: Option<ScheduleId>,
    /// Not valid before.
    pub valid_from: Option<Timestamp>,
    /// Not valid from this moment on.
    pub valid_until: Option<Timestamp>,
    /// The authority that issued it, if known.
    pub authority: Option<AuthorityId>,
}

/// A credential resolved against the site policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its id.
    pub id: CredentialId,
    /// Who holds it.
    pub holder: HolderId,
    /// The holder's role.
    pub role: RoleIdx,
    /// The token.
    pub token: Token,
    /// The doors it opens.
    pub doors: DoorSet,
    /// Its own schedule.
    pub schedule: Option<ScheduleIdx>,
    /// Not valid before.
    pub valid_from: Option<Timestamp>,
    /// Not valid from this moment on.
    pub valid_until: Option<Timestamp>,
    /// The issuer.
    pub authority: Option<AuthorityId>,
}
