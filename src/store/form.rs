//! How a stored record is hashed (pure). Format 1 — records written before audiences —
//! hashes holder and credential in clear. Format 2 hashes the header with the record's
//! audience and a salted commitment to the personal part (`portvakt_wire::chain`), so
//! the personal part can be erased with its salt and the chain still verifies; while it
//! is held, the commitment is checked against it too.

use portvakt_wire::chain::{Header, Personal, Salt, commitment, header_hash};

use super::record::{AuditRecord, NewEvent, SITE};

/// A stored record's format and, for format 2, its personal part's seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Holder and credential hashed in clear.
    V1,
    /// Header and commitment hashed.
    V2 {
        /// The salt, while the personal part is held (erased with it).
        salt: Option<Salt>,
        /// The commitment, if the record had a personal part.
        commitment: Option<[u8; 32]>,
    },
}

/// What a record's personal part looks like against its commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    /// None was recorded, or the record is format 1 (nothing to check beyond its hash).
    None,
    /// Held, and it matches its commitment.
    Held,
    /// Erased (by retention or on request): the commitment alone remains.
    Erased,
    /// Held but not what was committed to (changed in the store), or present where none
    /// was committed.
    Altered,
}

impl NewEvent {
    /// The personal part (holder, credential).
    pub fn personal(&self) -> Personal<'_> {
        Personal { holder: self.holder.as_deref(), credential: self.credential.as_deref() }
    }

    /// The format 2 header, with `commitment`.
    pub fn header<'a>(&'a self, commitment: Option<&'a [u8; 32]>) -> Header<'a> {
        Header {
            at_ms: self.at.as_millisecond(),
            trusted: self.trusted,
            kind: self.kind.code(),
            door: self.door.as_deref(),
            audience: if self.audience.is_empty() { SITE } else { &self.audience },
            commitment,
            detail: &self.detail,
        }
    }
}

/// A new record's seal: the salt and commitment when it has a personal part.
pub fn seal_for(e: &NewEvent, salt: Salt) -> Form {
    let part = e.personal();
    if part.is_empty() {
        Form::V2 { salt: None, commitment: None }
    } else {
        Form::V2 { salt: Some(salt), commitment: Some(commitment(&salt, &part)) }
    }
}

/// The hash of a record in `form` after `prev`.
pub fn hash_of(prev: &[u8; 32], seq: u64, e: &NewEvent, form: &Form) -> [u8; 32] {
    match form {
        Form::V1 => super::record::chain_hash(prev, seq, e),
        Form::V2 { commitment, .. } => header_hash(prev, seq, &e.header(commitment.as_ref())),
    }
}

impl AuditRecord {
    /// This record's hash recomputed from what it holds.
    pub fn computed_hash(&self) -> [u8; 32] {
        hash_of(&self.prev, self.seq, &self.event, &self.form)
    }

    /// Its personal part against its commitment.
    pub fn part_state(&self) -> PartState {
        let Form::V2 { salt, commitment: committed } = &self.form else { return PartState::None };
        let part = self.event.personal();
        match (committed, salt) {
            (None, _) if part.is_empty() => PartState::None,
            (Some(_), None) if part.is_empty() => PartState::Erased,
            (Some(c), Some(s)) if commitment(s, &part) == *c => PartState::Held,
            // Not what was committed to, or a part where none was committed.
            _ => PartState::Altered,
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::store::record::{EventKind, GENESIS};

    fn visit() -> NewEvent {
        NewEvent {
            at: Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
            trusted: true,
            kind: EventKind::AccessGranted,
            door: Some("entrance".into()),
            audience: "hemtjansten".into(),
            holder: Some("hemtjanst-natt-5".into()),
            credential: Some("care-5".into()),
            detail: "{}".into(),
        }
    }

    fn record(e: NewEvent) -> AuditRecord {
        let form = seal_for(&e, [4; 16]);
        let hash = hash_of(&GENESIS, 1, &e, &form);
        AuditRecord { seq: 1, event: e, prev: GENESIS, hash, form }
    }

    #[test]
    fn a_held_part_matches_its_commitment_and_an_erased_one_leaves_the_hash_whole() {
        let mut r = record(visit());
        assert_eq!((r.part_state(), r.computed_hash() == r.hash), (PartState::Held, true));
        r.event.holder = None;
        r.event.credential = None;
        r.form = match r.form {
            Form::V2 { commitment, .. } => Form::V2 { salt: None, commitment },
            f @ Form::V1 => f,
        };
        assert_eq!((r.part_state(), r.computed_hash() == r.hash), (PartState::Erased, true));
    }

    #[test]
    fn a_changed_holder_or_a_part_where_none_was_committed_is_altered() {
        let mut r = record(visit());
        r.event.holder = Some("mallory".into());
        assert_eq!(r.part_state(), PartState::Altered);
        assert_eq!(r.computed_hash(), r.hash, "the header alone still hashes: the commitment check finds it");
        let mut none = NewEvent { holder: None, credential: None, ..visit() };
        let mut r = record(none.clone());
        assert_eq!(r.part_state(), PartState::None);
        none.holder = Some("mallory".into());
        r.event = none;
        assert_eq!(r.part_state(), PartState::Altered);
    }
}
