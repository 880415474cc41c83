//! A site's fleet line as last read, shared by every viewer's live fetch of that row: a
//! change of one site makes each open fleet page fetch its row (`only=<site>`), so with 50
//! viewers the same line would be read 50 times; it is read once per change and kept until
//! the next notification for that site. The listener marks a site changed before it tells
//! any viewer (so no fetch a notification caused can find the line from before it), and
//! forgets everything when it has to connect again (notifications may have been missed
//! meanwhile). A line is kept only if no change came while it was being read. Who may see
//! the line is still checked per request; only the reading is shared.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::fleet_view::SiteLine;

/// Sites whose changes are counted at most; past it everything is forgotten and counting
/// starts again (site names come from the collectors' notifications, not from browsers).
const MAX_SITES: usize = 100_000;

/// When a line was read: the stamp of everything, and of its site.
type Stamp = (u64, u64);

#[derive(Default)]
struct Inner {
    generation: u64,
    versions: HashMap<String, u64>,
    kept: HashMap<String, (Stamp, Vec<SiteLine>)>,
}

impl Inner {
    fn stamp(&self, site: &str) -> Stamp {
        (self.generation, self.versions.get(site).copied().unwrap_or(0))
    }
}

/// The kept lines (see the module's text).
#[derive(Default)]
pub struct Lines {
    inner: Mutex<Inner>,
}

impl Lines {
    /// `site` changed: its kept line is gone, and a read under way is not kept.
    pub fn changed(&self, site: &str) {
        let Ok(mut i) = self.inner.lock() else { return };
        if i.versions.len() >= MAX_SITES && !i.versions.contains_key(site) {
            i.versions.clear();
            i.kept.clear();
            i.generation += 1;
        }
        *i.versions.entry(site.to_owned()).or_insert(0) += 1;
        i.kept.remove(site);
    }

    /// Nothing kept is trusted any more (notifications may have been missed).
    pub fn forget_all(&self) {
        let Ok(mut i) = self.inner.lock() else { return };
        i.kept.clear();
        i.generation += 1;
    }

    /// The line kept for `site`, if any; else the stamp to read it under.
    pub fn get(&self, site: &str) -> Result<Vec<SiteLine>, Stamp> {
        let Ok(i) = self.inner.lock() else { return Err((u64::MAX, u64::MAX)) };
        let now = i.stamp(site);
        match i.kept.get(site) {
            Some((at, lines)) if *at == now => Ok(lines.clone()),
            _ => Err(now),
        }
    }

    /// Keeps what was read for `site` under `stamp`, unless it changed meanwhile; only the
    /// line of a site that is there (so no more lines are kept than there are sites).
    pub fn keep(&self, site: &str, stamp: Stamp, lines: &[SiteLine]) {
        let Ok(mut i) = self.inner.lock() else { return };
        let real = matches!(lines, [line] if line.site == site);
        if !real || i.stamp(site) != stamp {
            return;
        }
        if i.kept.len() >= MAX_SITES {
            i.kept.clear();
        }
        i.kept.insert(site.to_owned(), (stamp, lines.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(site: &str, through: i64) -> SiteLine {
        SiteLine { site: site.into(), through, ..SiteLine::default() }
    }

    #[test]
    fn a_line_read_is_shared_until_its_site_changes() {
        let lines = Lines::default();
        let stamp = lines.get("a").unwrap_err();
        lines.keep("a", stamp, &[line("a", 1)]);
        assert_eq!(lines.get("a").unwrap(), [line("a", 1)]);
        lines.changed("a");
        assert!(lines.get("a").is_err(), "changed: read again");
        lines.changed("b");
        let stamp = lines.get("a").unwrap_err();
        lines.keep("a", stamp, &[line("a", 2)]);
        assert_eq!(lines.get("a").unwrap(), [line("a", 2)], "another site's change leaves it");
    }

    #[test]
    fn nothing_is_kept_for_a_site_that_is_not_there_or_under_another_name() {
        let lines = Lines::default();
        let stamp = lines.get("no-such-site").unwrap_err();
        lines.keep("no-such-site", stamp, &[]);
        assert!(lines.get("no-such-site").is_err());
        let stamp = lines.get("a").unwrap_err();
        lines.keep("a", stamp, &[line("b", 1)]);
        assert!(lines.get("a").is_err());
    }

    #[test]
    fn a_line_read_while_its_site_changed_or_the_listener_reconnected_is_not_kept() {
        let lines = Lines::default();
        let stamp = lines.get("a").unwrap_err();
        lines.changed("a");
        lines.keep("a", stamp, &[line("a", 1)]);
        assert!(lines.get("a").is_err(), "read from before the change");
        let stamp = lines.get("a").unwrap_err();
        lines.keep("a", stamp, &[line("a", 2)]);
        lines.forget_all();
        assert!(lines.get("a").is_err(), "notifications may have been missed");
        let stamp = lines.get("a").unwrap_err();
        lines.forget_all();
        lines.keep("a", stamp, &[line("a", 3)]);
        assert!(lines.get("a").is_err(), "read before the reconnection");
    }
}
