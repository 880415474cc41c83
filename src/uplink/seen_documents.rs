//! The digest of the last document that came on each `bundle/…` or `revocations/…` topic,
//! so a retained one that comes again at every reconnect is taken in once. Bounded: at
//! most [`REMEMBERED`] topics; past that, topics of authorities the config does not name
//! are forgotten first (their documents are refused anyway), then all (a document then
//! comes in once more, which is harmless). Pure.

use std::collections::HashMap;

/// Topics remembered, at most.
pub const REMEMBERED: usize = 256;

/// What came last on each topic.
#[derive(Debug, Default)]
pub struct SeenDocuments {
    last: HashMap<String, [u8; 32]>,
}

impl SeenDocuments {
    /// Whether these very bytes were the last to come on `topic`.
    pub fn unchanged(&self, topic: &str, digest: &[u8; 32]) -> bool {
        self.last.get(topic) == Some(digest)
    }

    /// Remembers `digest` for `topic`; `named` says whether a topic belongs to an
    /// authority of the config (kept longest when room runs out).
    pub fn remember(&mut self, topic: &str, digest: [u8; 32], named: impl Fn(&str) -> bool) {
        if self.last.len() >= REMEMBERED && !self.last.contains_key(topic) {
            self.last.retain(|t, _| named(t));
            if self.last.len() >= REMEMBERED {
                self.last.clear();
            }
        }
        self.last.insert(topic.to_owned(), digest);
    }

    /// Forgets `topic` (its last document failed for a passing reason: try it again).
    pub fn forget(&mut self, topic: &str) {
        self.last.remove(topic);
    }

    /// Topics remembered now.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_stays_bounded_however_many_topics_are_published_and_keeps_the_configured_ones() {
        let mut seen = SeenDocuments::default();
        let named = |t: &str| t.ends_with("/kommunen");
        seen.remember("p/bundle/kommunen", [1; 32], named);
        for i in 0..10_000 {
            seen.remember(&format!("p/bundle/stranger-{i}"), [2; 32], named);
            assert!(seen.len() <= REMEMBERED);
        }
        assert!(seen.unchanged("p/bundle/kommunen", &[1; 32]), "the configured authority's topic is kept");
        assert!(!seen.unchanged("p/bundle/kommunen", &[3; 32]));
        seen.forget("p/bundle/kommunen");
        assert!(!seen.unchanged("p/bundle/kommunen", &[1; 32]));
    }
}
