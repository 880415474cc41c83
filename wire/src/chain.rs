//! The audit hash chain: each record's hash is `SHA-256(previous hash ‖ canonical
//! bytes)`; the first record's previous hash is 32 zero bytes (or the anchor kept when
//! older records were pruned). The canonical bytes are documented in `docs/audit.md`; a
//! record's kind is its code as text, so a reader that does not know a newer kind can
//! still check its hash.
//!
//! Two formats. Format 1 ([`Fields`], records written before audiences) hashes holder and
//! credential in clear. Format 2 ([`Header`]) hashes the header — with the record's
//! audience — and a salted [`commitment`] to the personal part (holder, credential),
//! never the part itself: the chain verifies without anyone seeing who came in, and the
//! personal part can be erased (with its salt) while the commitment keeps the chain whole.

use sha2::{Digest as _, Sha256};

/// The previous-hash of the very first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Domain label at the start of every format 1 record's canonical bytes.
const LABEL: &[u8] = b"portvakt.audit.v1\0";
/// Domain label at the start of every format 2 record's canonical bytes.
const LABEL_V2: &[u8] = b"portvakt.audit.v2\0";
/// Domain label of a personal part's bytes (what the commitment covers after the salt).
const LABEL_PERSONAL: &[u8] = b"portvakt.personal.v1\0";

/// The salt of one record's commitment: random, kept beside the personal part and erased
/// with it (without the salt, a guessed holder cannot be tested against the commitment).
pub type Salt = [u8; 16];

/// What a format 2 record's hash covers besides its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Whether the clock was trusted then.
    pub trusted: bool,
    /// The kind's code (`access.granted`).
    pub kind: &'a str,
    /// The door, if any.
    pub door: Option<&'a str>,
    /// Whose the record is: an authority's id, or `site`.
    pub audience: &'a str,
    /// The commitment to the personal part, if the record has one.
    pub commitment: Option<&'a [u8; 32]>,
    /// The detail, the stored JSON text exactly (never naming a person).
    pub detail: &'a str,
}

/// A record's personal part: what names a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Personal<'a> {
    /// The holder, if any.
    pub holder: Option<&'a str>,
    /// The credential id, if any.
    pub credential: Option<&'a str>,
}

impl Personal<'_> {
    /// Whether there is anything personal at all.
    pub fn is_empty(&self) -> bool {
        self.holder.is_none() && self.credential.is_none()
    }

    /// The part's canonical bytes (`docs/audit.md`).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = LABEL_PERSONAL.to_vec();
        field(&mut out, self.holder);
        field(&mut out, self.credential);
        out
    }
}

/// The commitment to a personal part: `SHA-256(salt ‖ the part's canonical bytes)`.
pub fn commitment(salt: &Salt, personal: &Personal<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(personal.bytes());
    h.finalize().into()
}

/// The canonical bytes of format 2 record `seq`.
pub fn canonical_v2(seq: u64, h: &Header<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + h.detail.len());
    out.extend_from_slice(LABEL_V2);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&h.at_ms.to_be_bytes());
    out.push(u8::from(h.trusted));
    field(&mut out, Some(h.kind));
    field(&mut out, h.door);
    field(&mut out, Some(h.audience));
    match h.commitment {
        None => out.push(0),
        Some(c) => {
            out.push(1);
            out.extend_from_slice(c);
        }
    }
    field(&mut out, Some(h.detail));
    out
}

/// The hash of format 2 record `seq` given the previous hash.
pub fn header_hash(prev: &[u8; 32], seq: u64, h: &Header<'_>) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(prev);
    d.update(canonical_v2(seq, h));
    d.finalize().into()
}

/// What a format 1 record's hash covers besides its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Whether the clock was trusted then.
    pub trusted: bool,
    /// The kind's code (`access.granted`).
    pub kind: &'a str,
    /// The door, if any.
    pub door: Option<&'a str>,
    /// The holder, if any.
    pub holder: Option<&'a str>,
    /// The credential id, if any.
    pub credential: Option<&'a str>,
    /// The detail, the stored JSON text exactly.
    pub detail: &'a str,
}

fn field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// The canonical bytes of format 1 record `seq`.
pub fn canonical(seq: u64, f: &Fields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + f.detail.len());
    out.extend_from_slice(LABEL);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&f.at_ms.to_be_bytes());
    out.push(u8::from(f.trusted));
    field(&mut out, Some(f.kind));
    field(&mut out, f.door);
    field(&mut out, f.holder);
    field(&mut out, f.credential);
    field(&mut out, Some(f.detail));
    out
}

/// The hash of format 1 record `seq` given the previous hash.
pub fn chain_hash(prev: &[u8; 32], seq: u64, f: &Fields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(seq, f));
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(detail: &str) -> Fields<'_> {
        Fields {
            at_ms: 1_795_000_000_000,
            trusted: true,
            kind: "access.granted",
            door: Some("entrance"),
            holder: None,
            credential: Some("care-5"),
            detail,
        }
    }

    #[test]
    fn an_absent_field_and_an_empty_one_hash_differently_and_every_byte_of_detail_counts() {
        let mut a = fields("{}");
        let h = chain_hash(&GENESIS, 1, &a);
        a.holder = Some("");
        assert_ne!(chain_hash(&GENESIS, 1, &a), h);
        assert_ne!(chain_hash(&GENESIS, 1, &fields("{ }")), h);
        assert_ne!(chain_hash(&GENESIS, 2, &fields("{}")), h);
        assert_ne!(chain_hash(&[1; 32], 1, &fields("{}")), h);
    }

    #[test]
    fn a_format_2_hash_covers_the_audience_and_the_commitment_but_not_the_personal_part() {
        let salt = [5; 16];
        let who = Personal { holder: Some("hemtjanst-natt-5"), credential: Some("care-5") };
        let c = commitment(&salt, &who);
        let header = |audience, commitment| Header {
            at_ms: 1,
            trusted: true,
            kind: "access.granted",
            door: Some("entrance"),
            audience,
            commitment,
            detail: "{}",
        };
        let h = header_hash(&GENESIS, 1, &header("hemtjansten", Some(&c)));
        assert_ne!(header_hash(&GENESIS, 1, &header("agaren", Some(&c))), h, "the audience counts");
        assert_ne!(header_hash(&GENESIS, 1, &header("hemtjansten", None)), h, "the commitment counts");
        let other = Personal { holder: Some("hemtjanst-natt-6"), ..who };
        assert_ne!(commitment(&salt, &other), c, "another holder, another commitment");
        assert_ne!(commitment(&[6; 16], &who), c, "another salt, another commitment");
        let v1 = Fields { at_ms: 1, trusted: true, kind: "k", door: None, holder: None, credential: None, detail: "d" };
        let v2 =
            Header { at_ms: 1, trusted: true, kind: "k", door: None, audience: "site", commitment: None, detail: "d" };
        assert_ne!(chain_hash(&GENESIS, 1, &v1), header_hash(&GENESIS, 1, &v2), "the formats never collide");
    }

    #[test]
    fn the_format_2_bytes_are_as_docs_audit_md_lays_them_out() {
        let c = [0xcc; 32];
        let h =
            Header { at_ms: 1, trusted: true, kind: "k", door: None, audience: "a", commitment: Some(&c), detail: "d" };
        let mut want = b"portvakt.audit.v2\0".to_vec();
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&1i64.to_be_bytes());
        want.push(1);
        want.extend_from_slice(&[1, 0, 0, 0, 1, b'k', 0, 1, 0, 0, 0, 1, b'a', 1]);
        want.extend_from_slice(&c);
        want.extend_from_slice(&[1, 0, 0, 0, 1, b'd']);
        assert_eq!(canonical_v2(7, &h), want);
        let p = Personal { holder: Some("h"), credential: None };
        let mut want = b"portvakt.personal.v1\0".to_vec();
        want.extend_from_slice(&[1, 0, 0, 0, 1, b'h', 0]);
        assert_eq!(p.bytes(), want);
    }

    #[test]
    fn the_canonical_bytes_are_as_docs_audit_md_lays_them_out() {
        let f = Fields { at_ms: 1, trusted: false, kind: "k", door: None, holder: None, credential: None, detail: "d" };
        let mut want = b"portvakt.audit.v1\0".to_vec();
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&1i64.to_be_bytes());
        want.push(0);
        want.extend_from_slice(&[1, 0, 0, 0, 1, b'k', 0, 0, 0, 1, 0, 0, 0, 1, b'd']);
        assert_eq!(canonical(7, &f), want);
    }
}
