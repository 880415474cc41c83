//! The audit hash chain: each record's hash is `SHA-256(previous hash ‖ canonical
//! bytes)`; the first record's previous hash is 32 zero bytes (or the anchor kept when
//! older records were pruned). The canonical bytes are documented in `docs/audit.md`; a
//! record's kind is its code as text, so a reader that does not know a newer kind can
//! still check its hash.

use sha2::{Digest as _, Sha256};

/// The previous-hash of the very first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Domain label at the start of every record's canonical bytes.
const LABEL: &[u8] = b"portvakt.audit.v1\0";

/// What a record's hash covers besides its sequence number.
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

/// The canonical bytes of record `seq`.
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

/// The hash of record `seq` given the previous hash.
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
