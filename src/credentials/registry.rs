//! The gateway's accepted credentials: each authority's last good bundle (kept as its
//! signed bytes, which are compact, and decoded when the allowlist is rebuilt) and
//! revocation list. Combining them gives the core its allowlist, revocations and laundry
//! bookings. A new document is verified and combined first (conflicts with other
//! authorities refuse it), then persisted, then swapped in.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::bundle::Bundle;
use super::delegated::{IssuerList, Through, issuer_list_key, verify_issuer_list};
use super::envelope::open;
use super::revocation::RevocationList;
use super::verify::{Refusal, Trust, verify_bundle, verify_revocations};
use crate::config::AuthorityClass;
use crate::core::allowlist::{Allowlist, Revocations};
use crate::core::booking::{Booking, Bookings};
use crate::core::credential::{CredentialSpec, PhoneKey};
use crate::core::ids::{AuthorityId, CredentialId, DoorId, HolderId, RoleId, ScheduleId};
use crate::core::model::SitePolicy;

/// What the registry knows of an authority's bundle, without its entries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleInfo {
    /// Version.
    pub version: u64,
    /// Issued at.
    pub issued_at: Timestamp,
    /// Not after.
    pub not_after: Timestamp,
    /// How many credentials.
    pub entries: usize,
}

/// The core's inputs built from every accepted document.
#[derive(Debug)]
pub struct Built {
    /// The site policy: the config's, with the owner's signed changes applied.
    pub policy: SitePolicy,
    /// Credentials.
    pub allowlist: Allowlist,
    /// Revoked ids and keys.
    pub revocations: Revocations,
    /// Laundry bookings.
    pub bookings: Bookings,
}

/// Where the signed bytes of accepted bundles are kept (the store), so the registry need
/// not hold a second copy (9 MB for 100 000 credentials).
pub trait BundleSource {
    /// The stored signed bundle of an authority.
    fn bundle_bytes(&self, authority: &str) -> Option<Vec<u8>>;
}

impl BundleSource for crate::store::Store {
    fn bundle_bytes(&self, authority: &str) -> Option<Vec<u8>> {
        self.bundle(authority).ok().flatten().map(|d| d.body)
    }
}

/// Signed bundles in memory (tools and tests). Only the authority (the body's first
/// field) is read to find one; the bundle itself is decoded by the caller.
impl BundleSource for Vec<Vec<u8>> {
    fn bundle_bytes(&self, authority: &str) -> Option<Vec<u8>> {
        let author = |b: &Vec<u8>| open(b).ok().and_then(|e| super::wire::Reader::new(e.body).str("authority").ok());
        self.iter().find(|b| author(b).as_deref() == Some(authority)).cloned()
    }
}

/// A registry restored at start: it, the stored documents that no longer verify, and the
/// core's inputs (or why they could not be built).
pub type Restored = (Registry, Vec<Refusal>, Result<Built, Vec<String>>);

/// Accepted documents per authority: bundle facts (the bytes stay in the store) and the
/// revocation lists (small).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    bundles: BTreeMap<String, BundleInfo>,
    revocations: BTreeMap<String, RevocationList>,
    /// Issuers' revocation lists, by `<authority>/<delegation id>/<issuer key>`.
    issuer_lists: BTreeMap<String, IssuerList>,
    /// The highest versions ever accepted, kept apart from the documents.
    floors: crate::store::state::VersionFloors,
}

fn own_id<T: std::str::FromStr<Err = crate::core::ids::IdError>>(
    s: impl AsRef<str>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    s.as_ref().parse::<T>().map_err(|e| problems.push(format!("{what}: {e}"))).ok()
}

/// The bundle's entries as credential specs; consumes the bundle so its strings move
/// into the credentials instead of being copied (100 000 entries: tens of MB saved).
fn specs(b: Bundle, grace: SignedDuration, problems: &mut Vec<String>) -> Vec<CredentialSpec> {
    let authority: Option<AuthorityId> = b.authority.parse().ok();
    // Past the bundle's end its credentials stay in use for the authority's grace (the
    // config's `expiry_grace`), so residents are not locked out by a late re-issue.
    let not_after = b.not_after + grace;
    b.entries
        .into_iter()
        .filter_map(|e| {
            let doors: Option<Vec<DoorId>> = e.doors.into_iter().map(|d| own_id(d, "door", problems)).collect();
            let schedule = match e.schedule {
                Some(s) => Some(own_id::<ScheduleId>(s, "schedule", problems)?),
                None => None,
            };
            // A credential never outlives its bundle (and its grace).
            let valid_until = Some(e.valid_until.map_or(not_after, |u| u.min(not_after)));
            Some(CredentialSpec {
                id: own_id::<CredentialId>(e.id, "credential", problems)?,
                holder: own_id::<HolderId>(e.holder, "holder", problems)?,
                role: own_id::<RoleId>(e.role, "role", problems)?,
                token: e.token,
                doors: doors?,
                schedule,
                valid_from: e.valid_from,
                valid_until,
                authority: authority.clone(),
            })
        })
        .collect()
}

fn info_of(b: &Bundle) -> BundleInfo {
    BundleInfo { version: b.version, issued_at: b.issued_at, not_after: b.not_after, entries: b.entries.len() }
}

/// What [`Registry::check_bundle`] found: the bundle's facts and the core's new inputs.
#[derive(Debug)]
pub struct CheckedBundle {
    /// The authority.
    pub authority: String,
    /// Version, times and size.
    pub info: BundleInfo,
    /// The core's inputs with this bundle in place.
    pub built: Built,
}

impl Registry {
    /// The version a new bundle of `authority` must exceed: its stored bundle's, or the
    /// floor's when higher (the stored one was damaged or dropped).
    pub fn bundle_version(&self, authority: &str) -> Option<u64> {
        let doc = self.bundles.get(authority).map(|i| i.version);
        doc.max(self.floors.bundles.get(authority).copied())
    }

    /// The sequence a new revocation list of `authority` must exceed (as for bundles).
    pub fn revocation_sequence(&self, authority: &str) -> Option<u64> {
        let doc = self.revocations.get(authority).map(|r| r.sequence);
        doc.max(self.floors.revocations.get(authority).copied())
    }

    /// The sequence a new issuer's list under `key` (`<authority>/<delegation id>/<issuer
    /// key>`) must exceed.
    fn issuer_sequence(&self, key: &str) -> Option<u64> {
        let doc = self.issuer_lists.get(key).map(|l| l.list.sequence);
        doc.max(self.floors.revocations.get(key).copied())
    }

    /// Verifies an issuer's revocation list (type 9); nothing changes yet. A list through
    /// a delegation that is revoked (its id or its issuer's key) is refused: that issuer
    /// has no say any more.
    pub fn check_issuer_list(&self, bytes: &[u8], trust: &Trust<'_>) -> Result<IssuerList, Refusal> {
        let list = verify_issuer_list(bytes, trust, |k| self.issuer_sequence(k))?;
        if self.revokes_delegation(trust, &list.list.authority, &list.through, None) {
            return Err(Refusal::DelegationRevoked(list.through.id));
        }
        Ok(list)
    }

    /// Takes in an issuer's list checked by [`Self::check_issuer_list`].
    pub fn insert_issuer_list(&mut self, list: IssuerList) {
        self.issuer_lists.insert(list.key.clone(), list);
    }

    /// Whether the issuer that signed a certificate through `through` has revoked it since:
    /// its id or its phone key on that issuer's list for that delegation.
    pub fn revokes_issued(&self, authority: &str, through: &Through, id: &str, phone_key: &[u8; 32]) -> bool {
        self.issuer_lists
            .get(&issuer_list_key(authority, through))
            .is_some_and(|l| l.list.ids.iter().any(|i| i == id) || l.list.keys.contains(phone_key))
    }

    /// Every authority's bundle, without entries (for state messages and staleness).
    pub fn bundles(&self) -> impl Iterator<Item = (&str, &BundleInfo)> {
        self.bundles.iter().map(|(a, i)| (a.as_str(), i))
    }

    /// Builds the core's inputs from everything accepted; bundles in `decoded` (already in
    /// hand) replace those authorities' stored ones, which are read from `source` only for
    /// the others; `extra_revocations` replaces that authority's list.
    pub fn build_with(
        &self,
        trust: &Trust<'_>,
        source: &dyn BundleSource,
        decoded: Vec<Bundle>,
        extra_revocations: Option<&RevocationList>,
    ) -> Result<Built, Vec<String>> {
        let mut problems = Vec::new();
        let mut all_specs = Vec::new();
        let mut owner_bundle_bookings = Vec::new();
        let mut owner_policy = None;
        let mut visit = |mut b: Bundle, problems: &mut Vec<String>| {
            let authority = trust.authority(&b.authority);
            if authority.is_some_and(|a| a.rights.bookings) {
                owner_bundle_bookings.append(&mut b.bookings);
            }
            if authority.is_some_and(|a| a.class == AuthorityClass::Owner)
                && let Some(p) = b.policy.take()
            {
                owner_policy = Some(p);
            }
            let grace = authority.map_or(SignedDuration::ZERO, |a| a.rights.expiry_grace);
            all_specs.extend(specs(b, grace, problems));
        };
        let in_hand: Vec<String> = decoded.iter().map(|b| b.authority.clone()).collect();
        for authority in self.bundles.keys() {
            if in_hand.contains(authority) {
                continue;
            }
            let bytes = source.bundle_bytes(authority).unwrap_or_default();
            match open(&bytes).ok().and_then(|env| Bundle::decode(env.body).ok()) {
                Some(b) => visit(b, &mut problems),
                None => problems.push(format!("the stored bundle of {authority} no longer decodes")),
            }
        }
        for b in decoded {
            visit(b, &mut problems);
        }
        let policy = match owner_policy.as_ref().map(|p| trust.policy.with_owner_policy(p)) {
            None => trust.policy.clone(),
            Some(Ok(p)) => p,
            Some(Err(errors)) => {
                problems.extend(errors.into_iter().map(|e| format!("owner's site policy: {e}")));
                trust.policy.clone()
            }
        };
        let allowlist = match Allowlist::build(&policy, all_specs) {
            Ok(a) => a,
            Err(errors) => {
                problems.extend(errors.iter().map(ToString::to_string));
                Allowlist::default()
            }
        };
        let mut revocations = Revocations::default();
        let lists = self
            .revocations
            .iter()
            .filter(|(a, _)| extra_revocations.is_none_or(|e| &e.authority != *a))
            .map(|(_, l)| l)
            .chain(extra_revocations);
        for list in lists {
            // An authority revokes its own credentials and certificates; the owner any.
            let is_owner = trust.authority(&list.authority).is_some_and(|a| a.class == AuthorityClass::Owner);
            let Ok(revoker) = list.authority.parse::<AuthorityId>() else { continue };
            for k in &list.keys {
                if is_owner {
                    revocations.revoke_key(PhoneKey(*k));
                } else {
                    revocations.revoke_key_of(PhoneKey(*k), revoker.clone());
                }
            }
            for id in &list.ids {
                let Ok(cid) = id.parse::<CredentialId>() else { continue };
                if is_owner {
                    revocations.revoke_id(cid);
                } else {
                    revocations.revoke_id_of(cid, revoker.clone());
                }
            }
        }
        let mut bookings = Vec::new();
        for b in owner_bundle_bookings {
            let holder = own_id::<HolderId>(b.holder, "booking holder", &mut problems);
            let door = b.door.parse::<DoorId>().ok().and_then(|d| trust.policy.door_index(&d));
            if door.is_none() {
                problems.push(format!("booking door \"{}\" is not defined", b.door));
            }
            if let (Some(holder), Some(door)) = (holder, door) {
                bookings.push(Booking { holder, door, start: b.start, end: b.end });
            }
        }
        if problems.is_empty() {
            Ok(Built { policy, allowlist, revocations, bookings: Bookings::new(bookings) })
        } else {
            Err(problems)
        }
    }

    /// Verifies a bundle and combines it with everything else; nothing changes yet.
    pub fn check_bundle(
        &self,
        bytes: &[u8],
        trust: &Trust<'_>,
        now: Timestamp,
        clock_trusted: bool,
        source: &dyn BundleSource,
    ) -> Result<CheckedBundle, Refusal> {
        let bundle = verify_bundle(bytes, trust, |a| self.bundle_version(a), now, clock_trusted)?;
        let authority = bundle.authority.clone();
        let info = info_of(&bundle);
        let built = self.build_with(trust, source, vec![bundle], None).map_err(Refusal::Unresolvable)?;
        Ok(CheckedBundle { authority, info, built })
    }

    /// Verifies a revocation list and combines it; nothing changes yet.
    pub fn check_revocations(
        &self,
        bytes: &[u8],
        trust: &Trust<'_>,
        source: &dyn BundleSource,
    ) -> Result<(RevocationList, Built), Refusal> {
        let list = verify_revocations(bytes, trust, |a| self.revocation_sequence(a))?;
        let built = self.build_with(trust, source, Vec::new(), Some(&list)).map_err(Refusal::Unresolvable)?;
        Ok((list, built))
    }

    /// Whether the delegation a certificate came through is revoked: its id or its
    /// issuer's key on the delegating authority's list or the owner's. `carried` (a newer
    /// list the phone brought) stands in for its authority's stored one.
    pub fn revokes_delegation(
        &self,
        trust: &Trust<'_>,
        authority: &str,
        through: &Through,
        carried: Option<&RevocationList>,
    ) -> bool {
        let stored = self.revocations.values().filter(|l| carried.is_none_or(|c| c.authority != l.authority));
        stored.chain(carried).any(|list| {
            let applies = list.authority == authority
                || trust.authority(&list.authority).is_some_and(|a| a.class == crate::config::AuthorityClass::Owner);
            applies && (list.ids.contains(&through.id) || list.keys.contains(&through.issuer_key))
        })
    }

    /// Takes in a bundle checked by [`Self::check_bundle`] (after it was persisted).
    pub fn insert_bundle(&mut self, authority: String, info: BundleInfo) {
        self.bundles.insert(authority, info);
    }

    /// Takes in a revocation list checked by [`Self::check_revocations`].
    pub fn insert_revocations(&mut self, list: RevocationList) {
        self.revocations.insert(list.authority.clone(), list);
    }

    fn verify_store(
        store: &crate::store::Store,
        trust: &Trust<'_>,
    ) -> Result<(Self, Vec<Refusal>, Vec<Bundle>), crate::store::StoreError> {
        let bodies = |docs: Vec<crate::store::state::SignedDoc>| docs.into_iter().map(|d| d.body).collect::<Vec<_>>();
        let (mut reg, refused, decoded) =
            Self::verify_all(&bodies(store.bundles()?), &bodies(store.revocation_lists()?), trust);
        reg.floors = store.version_floors()?;
        Ok((reg, refused, decoded))
    }

    /// The registry of a store's documents (see [`Self::restore`]).
    pub fn from_store(
        store: &crate::store::Store,
        trust: &Trust<'_>,
    ) -> Result<(Self, Vec<Refusal>), crate::store::StoreError> {
        let (reg, refused, _) = Self::verify_store(store, trust)?;
        Ok((reg, refused))
    }

    /// The registry of a store's documents and the core's inputs built from them, each
    /// bundle decoded once (what a gateway does at start).
    pub fn built_from_store(
        store: &crate::store::Store,
        trust: &Trust<'_>,
    ) -> Result<Restored, crate::store::StoreError> {
        let (reg, refused, decoded) = Self::verify_store(store, trust)?;
        let built = reg.build_with(trust, store, decoded, None);
        Ok((reg, refused, built))
    }

    /// Rebuilds from stored documents at start, verifying each again (a document altered
    /// on the SD card, or from an authority no longer configured, is dropped and reported).
    pub fn restore(bundles: &[Vec<u8>], revocation_lists: &[Vec<u8>], trust: &Trust<'_>) -> (Self, Vec<Refusal>) {
        let (reg, refused, _) = Self::verify_all(bundles, revocation_lists, trust);
        (reg, refused)
    }

    /// Verifies stored documents; returns the registry, the refusals and the decoded
    /// bundles (for a first build without decoding them again).
    fn verify_all(
        bundles: &[Vec<u8>],
        revocation_lists: &[Vec<u8>],
        trust: &Trust<'_>,
    ) -> (Self, Vec<Refusal>, Vec<Bundle>) {
        let mut reg = Self::default();
        let mut refused = Vec::new();
        let mut decoded = Vec::new();
        for bytes in bundles {
            // Expiry is enforced per credential (valid_until is capped by not_after).
            match verify_bundle(bytes, trust, |_| None, Timestamp::UNIX_EPOCH, false) {
                Ok(b) => {
                    reg.insert_bundle(b.authority.clone(), info_of(&b));
                    decoded.push(b);
                }
                Err(e) => refused.push(e),
            }
        }
        for bytes in revocation_lists {
            let issuers = open(bytes).is_ok_and(|e| e.doc_type == super::envelope::DocType::IssuerRevocations);
            let verified = if issuers {
                verify_issuer_list(bytes, trust, |_| None).map(|l| reg.insert_issuer_list(l))
            } else {
                verify_revocations(bytes, trust, |_| None).map(|l| reg.insert_revocations(l))
            };
            if let Err(e) = verified {
                refused.push(e);
            }
        }
        (reg, refused, decoded)
    }
}
