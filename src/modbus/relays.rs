//! Closed-loop relay boards (pure): the coils the gateway wants, the coils the board last
//! reported, and what a read of the board calls for. The bus actor keeps one
//! [`RelayBoard`] per relay board; every read is compared with what is wanted, and a coil
//! that differs — a relay board that restarted with every coil off, a write lost on the
//! line, a coil changed by someone else — is written again. A correction starts an
//! *episode* (reported once) that ends when the board reads as wanted again.

use std::collections::{BTreeMap, BTreeSet};

/// A coil found not as wanted (channel 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Correction {
    /// The channel.
    pub channel: u16,
    /// What the board holds.
    pub found: bool,
    /// What the gateway wants.
    pub wanted: bool,
    /// Whether this starts an episode (the channel read as wanted before).
    pub new_episode: bool,
}

/// One relay board as the bus actor knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayBoard {
    wanted: BTreeMap<u16, bool>,
    known: Option<Vec<bool>>,
    mismatched: BTreeSet<u16>,
}

impl RelayBoard {
    /// The gateway wants `channel` (1-based) energised (`on`) or not.
    pub fn want(&mut self, channel: u16, on: bool) {
        self.wanted.insert(channel, on);
    }

    /// What the board last reported (a read, or a confirmed write); `None` while unknown.
    pub fn known(&self) -> Option<&[bool]> {
        self.known.as_deref()
    }

    /// A write of `channel` was confirmed by the board's echo.
    pub fn wrote(&mut self, channel: u16, on: bool) {
        if let Some(slot) = self.known.as_mut().and_then(|k| k.get_mut(usize::from(channel.saturating_sub(1)))) {
            *slot = on;
        }
    }

    /// The board cannot be reached: what it holds is unknown until the next read.
    pub fn forget(&mut self) {
        self.known = None;
    }

    /// Compares a read of the board's coils with what is wanted. Returns the coils to
    /// write again; remembers the read as what the board holds and returns whether that
    /// differs from what was known before.
    pub fn read(&mut self, coils: Vec<bool>) -> (Vec<Correction>, bool) {
        let mut corrections = Vec::new();
        for (&channel, &wanted) in &self.wanted {
            let Some(&found) = coils.get(usize::from(channel.saturating_sub(1))) else { continue };
            if found == wanted {
                self.mismatched.remove(&channel);
            } else {
                let new_episode = self.mismatched.insert(channel);
                corrections.push(Correction { channel, found, wanted, new_episode });
            }
        }
        let changed = self.known.as_ref() != Some(&coils);
        self.known = Some(coils);
        (corrections, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(wanted: &[(u16, bool)]) -> RelayBoard {
        let mut b = RelayBoard::default();
        for &(c, on) in wanted {
            b.want(c, on);
        }
        b
    }

    #[test]
    fn a_board_that_restarted_with_every_coil_off_gets_each_wanted_coil_back() {
        let mut b = board(&[(1, true), (2, false), (3, true)]);
        let (fix, changed) = b.read(vec![false; 4]);
        assert!(changed);
        assert_eq!(
            fix,
            vec![
                Correction { channel: 1, found: false, wanted: true, new_episode: true },
                Correction { channel: 3, found: false, wanted: true, new_episode: true },
            ]
        );
    }

    #[test]
    fn a_coil_that_stays_wrong_is_one_episode_and_reading_right_ends_it() {
        let mut b = board(&[(1, true)]);
        assert!(b.read(vec![false]).0[0].new_episode);
        assert!(!b.read(vec![false]).0[0].new_episode, "still the same episode");
        assert_eq!(b.read(vec![true]).0, vec![]);
        assert!(b.read(vec![false]).0[0].new_episode, "a new episode");
    }

    #[test]
    fn coils_nobody_asked_for_are_left_alone_and_a_confirmed_write_updates_what_is_known() {
        let mut b = board(&[(2, true)]);
        assert_eq!(b.read(vec![true, true]).0, vec![], "channel 1 is not the gateway's");
        b.wrote(2, false);
        assert_eq!(b.known(), Some(&[true, false][..]));
        b.forget();
        assert_eq!(b.known(), None);
        assert!(b.read(vec![true, false]).1, "after forgetting, any read is news");
    }
}
