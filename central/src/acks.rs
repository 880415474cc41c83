//! Acknowledgements held while a backlog is taken in (pure: `now` is passed in). Each
//! batch committed gives, per run of a site's chain, how far it is whole; while more
//! messages are already waiting, the collector holds those answers a moment and sends only
//! the newest per run, signed once, instead of one signed acknowledgement per run per
//! batch. The broker's messages of those batches are held with them: they are acknowledged
//! to the broker only after their gateways' acknowledgements are sent, as without holding.
//! When nothing more waits, or fewer than [`BACKLOG`] messages are held, all of it goes at
//! once, so a fleet at its everyday pace is answered after every batch as before.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use portvakt_wire::ack::AckBody;

/// Held at most this long after the first batch held (the gateways' answer waits no more).
pub const HOLD: Duration = Duration::from_millis(250);

/// Sent once this many broker messages are held. A batch (up to 1 000) may come on top
/// before the check: two collectors' 3 000 each, with the 1 500 each may have asked for,
/// stay under the consumer's 10 000 unacknowledged.
pub const HOLD_MESSAGES: usize = 2000;

/// Held only once this many messages are: a backlog. Fewer (a fleet at its everyday pace,
/// a few records a batch) are answered at once even when another message already waits.
pub const BACKLOG: usize = 100;

/// What is held: the newest acknowledgement per (site, run), and the messages it covers.
#[derive(Debug)]
pub struct Held<M> {
    newest: BTreeMap<(String, Option<String>), AckBody>,
    messages: Vec<M>,
    since: Option<Instant>,
}

impl<M> Default for Held<M> {
    fn default() -> Self {
        Self { newest: BTreeMap::new(), messages: Vec::new(), since: None }
    }
}

impl<M> Held<M> {
    /// Holds a committed batch's acknowledgements and its messages. Of two for one run,
    /// the one further along is kept (a later batch never names less, but a run's point
    /// is never moved back in any case).
    pub fn add(&mut self, acks: Vec<AckBody>, messages: impl IntoIterator<Item = M>, now: Instant) {
        for ack in acks {
            let key = (ack.site.clone(), ack.epoch.clone());
            match self.newest.get(&key) {
                Some(kept) if kept.through > ack.through => {}
                _ => {
                    self.newest.insert(key, ack);
                }
            }
        }
        self.messages.extend(messages);
        self.since.get_or_insert(now);
    }

    /// Whether anything is held.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.newest.is_empty()
    }

    /// Whether what is held must go now even though more messages wait: too little of it
    /// to be a backlog, held long enough, or enough of it.
    pub fn due(&self, now: Instant) -> bool {
        self.messages.len() < BACKLOG
            || self.since.is_some_and(|t| now.duration_since(t) >= HOLD)
            || self.messages.len() >= HOLD_MESSAGES
    }

    /// Everything held, to be sent: the acknowledgements (one per run, in site order),
    /// then the messages they cover.
    pub fn take(&mut self) -> (Vec<AckBody>, Vec<M>) {
        self.since = None;
        (std::mem::take(&mut self.newest).into_values().collect(), std::mem::take(&mut self.messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(site: &str, epoch: Option<&str>, through: u64) -> AckBody {
        AckBody { site: site.into(), epoch: epoch.map(Into::into), through, hash: format!("{through:064x}") }
    }

    #[test]
    fn of_several_batches_only_the_newest_acknowledgement_of_each_run_is_sent_with_every_message() {
        let t = Instant::now();
        let mut held = Held::default();
        held.add(vec![ack("a", None, 3), ack("b", None, 7)], [1, 2], t);
        held.add(vec![ack("a", None, 5)], [3], t);
        held.add(vec![ack("a", Some("e2"), 1)], [4], t);
        let (acks, messages) = held.take();
        let sent: Vec<(&str, Option<&str>, u64)> =
            acks.iter().map(|a| (a.site.as_str(), a.epoch.as_deref(), a.through)).collect();
        assert_eq!(sent, [("a", None, 5), ("a", Some("e2"), 1), ("b", None, 7)]);
        assert_eq!(messages, [1, 2, 3, 4]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_run_is_never_acknowledged_back_to_an_earlier_point() {
        let t = Instant::now();
        let mut held = Held::default();
        held.add(vec![ack("a", None, 9)], [1], t);
        held.add(vec![ack("a", None, 4)], [2], t);
        assert_eq!(held.take().0[0].through, 9);
    }

    #[test]
    fn a_few_messages_are_due_at_once_and_a_backlog_after_the_hold_time_or_past_the_message_limit() {
        let t = Instant::now();
        let mut held: Held<usize> = Held::default();
        held.add(vec![ack("a", None, 1)], 0..BACKLOG - 1, t);
        assert!(held.due(t), "an everyday batch is answered at once");
        held.take();
        held.add(vec![ack("a", None, 1)], 0..BACKLOG, t);
        assert!(!held.due(t + HOLD / 2));
        assert!(held.due(t + HOLD));
        held.take();
        held.add(Vec::new(), 0..HOLD_MESSAGES, t);
        assert!(held.due(t), "enough messages are due at once");
        held.take();
        held.add(vec![ack("a", None, 2)], 0..BACKLOG, t + HOLD * 3);
        assert!(!held.due(t + HOLD * 3), "the hold time counts from the first batch held since the last send");
    }
}
