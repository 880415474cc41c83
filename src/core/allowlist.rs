//! The allowlist: credentials indexed by token and by id for constant-time lookup, built
//! from specs and checked against the site policy (every problem reported, not just the
//! first). Also the revocation set the decision consults.

use std::collections::HashMap;

use super::allowlist_index::Index;

use super::credential::{Credential, CredentialSpec, PhoneKey, Token};
use super::ids::{AuthorityId, CredentialId};
use super::model::{DoorSet, SitePolicy};

/// Why a spec could not join the allowlist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    /// Two credentials share an id.
    #[error("credential {id}: the id is used twice")]
    DuplicateId {
        /// The id.
        id: CredentialId,
    },
    /// Two credentials share a token (same PIN, tag or phone key).
    #[error("credential {id}: the same {what} as credential {other}")]
    DuplicateToken {
        /// The later credential.
        id: CredentialId,
        /// The earlier one.
        other: CredentialId,
        /// "PIN", "tag" or "phone key".
        what: &'static str,
    },
    /// A personal PIN equal to the building's door code.
    #[error("credential {id}: the PIN is the building's door code")]
    PinIsDoorCode {
        /// The credential.
        id: CredentialId,
    },
    /// The role is not defined for the site.
    #[error("credential {id}: role \"{role}\" is not defined")]
    UnknownRole {
        /// The credential.
        id: CredentialId,
        /// The role it names.
        role: String,
    },
    /// A door is not defined for the site.
    #[error("credential {id}: door \"{door}\" is not defined")]
    UnknownDoor {
        /// The credential.
        id: CredentialId,
        /// The door it names.
        door: String,
    },
    /// The schedule is not defined for the site.
    #[error("credential {id}: schedule \"{schedule}\" is not defined")]
    UnknownSchedule {
        /// The credential.
        id: CredentialId,
        /// The schedule it names.
        schedule: String,
    },
    /// `valid_until` is not after `valid_from`.
    #[error("credential {id}: valid_until is not after valid_from")]
    EmptyValidity {
        /// The credential.
        id: CredentialId,
    },
}

/// Credentials indexed for lookup (by token and by id; the indexes hold positions only).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<Credential>,
    by_token: Index,
    by_id: Index,
}

fn token_word(t: &Token) -> &'static str {
    match t {
        Token::Pin(_) => "PIN",
        Token::Tag(_) => "tag",
        Token::Phone(_) => "phone key",
    }
}

impl Allowlist {
    /// Resolves and indexes `specs`; all problems are returned together.
    pub fn build(policy: &SitePolicy, specs: Vec<CredentialSpec>) -> Result<Self, Vec<AllowlistError>> {
        let mut list = Self {
            entries: Vec::with_capacity(specs.len()),
            by_token: Index::with_capacity(specs.len()),
            by_id: Index::with_capacity(specs.len()),
        };
        let mut errors = Vec::new();
        for spec in specs {
            match resolve(policy, spec) {
                Ok(cred) => list.insert(policy, cred, &mut errors),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() { Ok(list) } else { Err(errors) }
    }

    fn insert(&mut self, policy: &SitePolicy, cred: Credential, errors: &mut Vec<AllowlistError>) {
        let Ok(idx) = u32::try_from(self.entries.len()) else {
            return;
        };
        if self.by_id(&cred.id).is_some() {
            errors.push(AllowlistError::DuplicateId { id: cred.id });
            return;
        }
        if let Some(other) = self.by_token(&cred.token) {
            errors.push(AllowlistError::DuplicateToken {
                what: token_word(&cred.token),
                other: other.id.clone(),
                id: cred.id,
            });
            return;
        }
        if let (Token::Pin(d), Some(code)) = (&cred.token, &policy.door_code)
            && *d == code.digest
        {
            errors.push(AllowlistError::PinIsDoorCode { id: cred.id });
            return;
        }
        let entries = &self.entries;
        self.by_id.insert(cred.id.as_str(), idx, |i| entries[i as usize].id.as_str());
        self.by_token.insert(&cred.token, idx, |i| entries[i as usize].token);
        self.entries.push(cred);
    }

    /// The credential with this token.
    pub fn by_token(&self, token: &Token) -> Option<&Credential> {
        let entry = |i: u32| self.entries.get(i as usize).map(|c| c.token == *token);
        self.by_token.find(token, entry).map(|i| &self.entries[i as usize])
    }

    /// The credential with this id.
    pub fn by_id(&self, id: &CredentialId) -> Option<&Credential> {
        let entry = |i: u32| self.entries.get(i as usize).map(|c| c.id == *id);
        self.by_id.find(id.as_str(), entry).map(|i| &self.entries[i as usize])
    }

    /// All credentials, in insertion order.
    pub fn entries(&self) -> &[Credential] {
        &self.entries
    }

    /// How many credentials there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn resolve(policy: &SitePolicy, spec: CredentialSpec) -> Result<Credential, Vec<AllowlistError>> {
    let mut errors = Vec::new();
    let id = spec.id;
    let role = policy.role_index(&spec.role);
    if role.is_none() {
        errors.push(AllowlistError::UnknownRole { id: id.clone(), role: spec.role.to_string() });
    }
    let mut doors = DoorSet::default();
    for d in &spec.doors {
        match policy.door_index(d) {
            Some(i) => doors = doors.with(i),
            None => errors.push(AllowlistError::UnknownDoor { id: id.clone(), door: d.to_string() }),
        }
    }
    let schedule = match &spec.schedule {
        None => None,
        Some(s) => {
            let found = policy.schedule_index(s);
            if found.is_none() {
                errors.push(AllowlistError::UnknownSchedule { id: id.clone(), schedule: s.to_string() });
            }
            found
        }
    };
    if let (Some(a), Some(b)) = (spec.valid_from, spec.valid_until)
        && b <= a
    {
        errors.push(AllowlistError::EmptyValidity { id: id.clone() });
    }
    match role {
        Some(role) if errors.is_empty() => Ok(Credential {
            id,
            holder: spec.holder,
            role,
            token: spec.token,
            doors,
            schedule,
            valid_from: spec.valid_from,
            valid_until: spec.valid_until,
            authority: spec.authority,
        }),
        _ => Err(errors),
    }
}

/// Who revoked something: the owner (it applies to every credential), or these
/// authorities (it applies to their own credentials and certificates only).
#[derive(Debug, Clone, Default)]
struct Revokers {
    everyone: bool,
    authorities: Vec<AuthorityId>,
}

impl Revokers {
    fn covers(&self, issuer: Option<&AuthorityId>) -> bool {
        match issuer {
            _ if self.everyone => true,
            Some(i) => self.authorities.contains(i),
            // A credential of unknown issuer (from the config, or tests): any revocation.
            None => !self.authorities.is_empty(),
        }
    }
}

/// Revoked credential ids and phone keys, scoped: an authority revokes its own
/// credentials and certificates, the owner any.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    ids: HashMap<CredentialId, Revokers>,
    keys: HashMap<PhoneKey, Revokers>,
}

impl Revocations {
    /// Revokes a credential by id, whoever issued it (the owner's list).
    pub fn revoke_id(&mut self, id: CredentialId) {
        self.ids.entry(id).or_default().everyone = true;
    }

    /// Revokes `authority`'s own credential or certificate with this id.
    pub fn revoke_id_of(&mut self, id: CredentialId, authority: AuthorityId) {
        self.ids.entry(id).or_default().authorities.push(authority);
    }

    /// Revokes a phone key, whatever credential or certificate carries it (the owner's list).
    pub fn revoke_key(&mut self, key: PhoneKey) {
        self.keys.entry(key).or_default().everyone = true;
    }

    /// Revokes a phone key in `authority`'s own credentials and certificates.
    pub fn revoke_key_of(&mut self, key: PhoneKey, authority: AuthorityId) {
        self.keys.entry(key).or_default().authorities.push(authority);
    }

    /// Whether the credential is revoked by id or by its phone key, by its issuer or the owner.
    pub fn is_revoked(&self, cred: &Credential) -> bool {
        let issuer = cred.authority.as_ref();
        self.ids.get(&cred.id).is_some_and(|r| r.covers(issuer))
            || matches!(cred.token, Token::Phone(k) if self.keys.get(&k).is_some_and(|r| r.covers(issuer)))
    }
}
