//! The collector's pure rules (no I/O): what an arriving record is beside what is stored
//! at its (site, run, seq), and how far a run of a site's chain is whole — the gap-free
//! point that an acknowledgement may name. Computed from what the database holds, never from one
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
    /// Every record of the run up to this one is stored and linked (the run's start
    /// less one: none yet).
    pub through: u64,
    /// That record's hash; none before the first record of a run that begins after
    /// record 1 (its `prev` is taken as it is).
    pub hash: Option<[u8; 32]>,
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
        if whole.hash.is_some_and(|h| h != link.prev) {
            whole.broken_at = Some(link.seq);
            break;
        }
        whole.through = link.seq;
        whole.hash = Some(link.hash);
    }
    whole
}

/// Where a run of a site's chain starts: before record 1, at the genesis hash; or — for a
/// run begun from a restored backup at record `from` — just before `from`, whose `prev`
/// is taken as it comes. `None` is the run a store began before runs existed.
pub fn start(from: Option<u64>) -> Whole {
    match from {
        Some(from) if from > 1 => Whole { through: from - 1, hash: None, broken_at: None },
        _ => Whole { through: 0, hash: Some(portvakt_wire::chain::GENESIS), broken_at: None },
    }
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
        Whole { through: 0, hash: Some(h(0)), broken_at: None }
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
        assert_eq!((w.through, w.hash, w.broken_at), (2, Some(h(2)), None));
        let w = advance(w, [link(3), link(4), link(5)]);
        assert_eq!((w.through, w.hash), (5, Some(h(5))));
    }

    #[test]
    fn a_record_that_does_not_link_breaks_the_chain_there_and_nothing_after_it_counts() {
        let forged = Link { seq: 3, prev: h(9), hash: h(3) };
        let w = advance(at_start(), [link(1), link(2), forged, link(4)]);
        assert_eq!((w.through, w.broken_at), (2, Some(3)));
        assert_eq!(advance(w, [link(4)]), w, "a broken chain is not advanced past");
    }

    #[test]
    fn a_run_begun_from_a_restored_backup_starts_just_before_its_first_record_and_links_from_there() {
        let w = start(Some(40));
        assert_eq!((w.through, w.hash), (39, None));
        assert_eq!(advance(w, [link(41)]).through, 39, "record 40 is missing");
        let w = advance(w, [link(40), link(41)]);
        assert_eq!((w.through, w.hash), (41, Some(h(41))));
        let forged = Link { seq: 42, prev: h(9), hash: h(42) };
        assert_eq!(advance(w, [forged]).broken_at, Some(42), "after its first record, every link counts");
    }

    #[test]
    fn a_new_stores_run_and_the_unnamed_run_start_at_the_genesis_hash() {
        for w in [start(None), start(Some(1))] {
            assert_eq!((w.through, w.hash), (0, Some(portvakt_wire::chain::GENESIS)));
            let not_first = Link { seq: 1, prev: h(7), hash: h(1) };
            assert_eq!(advance(w, [not_first]).broken_at, Some(1));
        }
    }
}
