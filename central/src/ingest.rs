//! The collector's pure rules (no I/O): what an arriving record is beside what is stored
//! at its (site, seq), and how far a site's chain is whole — the gap-free point that an
//! acknowledgement may name. Computed from what the database holds, never from one
//! collector's memory, so collectors may die and scale freely.

/// An arriving record beside what is stored at its (site, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Nothing was stored there: it is new.
    New,
    /// The same record again (a resend, a redelivery): nothing to store.
    Duplicate,
    /// A different record under a known sequence number: the gateway (or someone with
    /// its certificate) told two stories. Kept beside the first, never over it.
    Equivocation,
}

/// What an arriving record with `hash` is, given the hash stored at its place.
pub fn classify(hash: &[u8; 32], stored: Option<&[u8; 32]>) -> Arrival {
    match stored {
        None => Arrival::New,
        Some(h) if h == hash => Arrival::Duplicate,
        Some(_) => Arrival::Equivocation,
    }
}

/// A stored record as the chain sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Its sequence number.
    pub seq: u64,
    /// The hash it names as its predecessor's.
    pub prev: [u8; 32],
    /// Its own hash.
    pub hash: [u8; 32],
}

/// How far a site's chain is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole {
    /// Every record up to this one is stored and linked (0: none yet).
    pub through: u64,
    /// That record's hash (the anchor's when `through` is the start).
    pub hash: [u8; 32],
    /// The first record after `through` that is stored but does not link to it: the chain
    /// is broken there (or a record was forged), and stays so until looked into.
    pub broken_at: Option<u64>,
}

/// Moves the gap-free point over `next` — the stored records after `whole.through`, in
/// sequence order — as far as they are consecutive and linked.
pub fn advance(mut whole: Whole, next: impl IntoIterator<Item = Link>) -> Whole {
    if whole.broken_at.is_some() {
        return whole;
    }
    for link in next {
        if link.seq != whole.through + 1 {
            break; // a gap: wait for the missing record
        }
        if link.prev != whole.hash {
            whole.broken_at = Some(link.seq);
            break;
        }
        whole.through = link.seq;
        whole.hash = link.hash;
    }
    whole
}

/// Where a site's chain starts for Central: record 1 after the genesis hash, or — for a
/// gateway whose older records were confirmed and pruned before Central saw them — just
/// before the first record Central ever stored, after the hash it names.
pub fn start(first: &Link) -> Whole {
    Whole { through: first.seq - 1, hash: first.prev, broken_at: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn link(seq: u64) -> Link {
        let n = u8::try_from(seq).unwrap();
        Link { seq, prev: h(n - 1), hash: h(n) }
    }

    fn at_start() -> Whole {
        Whole { through: 0, hash: h(0), broken_at: None }
    }

    #[test]
    fn a_resend_is_a_duplicate_and_another_record_under_a_known_number_is_equivocation() {
        assert_eq!(classify(&h(1), None), Arrival::New);
        assert_eq!(classify(&h(1), Some(&h(1))), Arrival::Duplicate);
        assert_eq!(classify(&h(2), Some(&h(1))), Arrival::Equivocation);
    }

    #[test]
    fn the_whole_point_stops_at_the_first_missing_record_and_moves_on_when_it_comes() {
        let w = advance(at_start(), [link(1), link(2), link(4), link(5)]);
        assert_eq!((w.through, w.hash, w.broken_at), (2, h(2), None));
        let w = advance(w, [link(3), link(4), link(5)]);
        assert_eq!((w.through, w.hash), (5, h(5)));
    }

    #[test]
    fn a_record_that_does_not_link_breaks_the_chain_there_and_nothing_after_it_counts() {
        let forged = Link { seq: 3, prev: h(9), hash: h(3) };
        let w = advance(at_start(), [link(1), link(2), forged, link(4)]);
        assert_eq!((w.through, w.broken_at), (2, Some(3)));
        assert_eq!(advance(w, [link(4)]), w, "a broken chain is not advanced past");
    }

    #[test]
    fn a_site_first_seen_after_pruning_starts_just_before_its_first_record() {
        let w = start(&link(40));
        assert_eq!((w.through, w.hash), (39, h(39)));
        assert_eq!(advance(w, [link(40), link(41)]).through, 41);
    }
}
