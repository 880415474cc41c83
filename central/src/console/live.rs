//! What changed, as it happens: one connection LISTENs on `portvakt_fleet`, on which the
//! collectors NOTIFY a site's name whenever its status, state, doors, alarms or records
//! change. The names heard are gathered and said at most once every [`PERIOD`], each with
//! the site's fleet line read once for every open page (one statement for all of them);
//! each open event stream (`/events`) passes on what its account may see, the rows
//! rendered in its page's language once for all pages in it. The last words are kept, so
//! a page's stream begins with those said after the page was read. After losing
//! PostgreSQL it connects again and says [`Change::Missed`] (what was notified meanwhile
//! is not known).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, NoTls};

use super::i18n::Lang;
use crate::db::DbError;
use crate::fleet_view::{self, SiteLine};

/// The channel the collectors notify (`fleet::notify`).
pub const CHANNEL: &str = crate::fleet::CHANNEL;

/// What the listener's connection is called in `pg_stat_activity`.
pub const APPLICATION: &str = "portvakt-console-listener";

/// Changes are said at most this often: a person reads a page no faster, and every open
/// page then costs one look at its session a second, however busy the fleet.
pub const PERIOD: Duration = Duration::from_secs(1);

/// How long after a first change others are waited for when the last word was long ago:
/// the names one transaction notified come as separate messages.
const SETTLE: Duration = Duration::from_millis(50);

/// Distinct sites gathered at most between two words; past it the open pages are told
/// they missed changes (site names come from the collectors, not from browsers).
const MAX_SITES: usize = 100_000;

/// Words kept for a stream that has not taken them; one that falls further behind is told
/// it missed changes.
const BACKLOG: usize = 16;

/// What the listener says.
#[derive(Clone)]
pub enum Change {
    /// These sites changed.
    Sites(Arc<Changed>),
    /// Changes may have been missed (the listener connected again, or more sites changed
    /// than are gathered): every open page reads all it shows again.
    Missed,
}

/// Sites that changed, each as every page may show it, read after the change.
pub struct Changed {
    /// The sites, in order.
    pub sites: Vec<String>,
    rows: HashMap<String, Row>,
}

/// A changed site's row of the fleet table, and what a page's filter looks at: only what
/// the pages need is kept (a stream that falls behind holds its words).
pub struct Row {
    /// What its gateway's config calls it.
    pub name: Option<String>,
    /// Open alarms, or offline.
    pub problem: bool,
    sv: String,
    en: String,
}

impl Row {
    /// The row in `lang`.
    pub fn html(&self, lang: Lang) -> &str {
        match lang {
            Lang::Sv => &self.sv,
            Lang::En => &self.en,
        }
    }
}

impl Changed {
    /// What changed: `sites`, and the lines read of them (none for a site not there),
    /// rendered once for every page.
    pub fn new(sites: Vec<String>, lines: &[SiteLine]) -> Self {
        let render = |lang, l: &SiteLine| super::pages::fleet_rows(lang, std::slice::from_ref(l)).into_string();
        let rows = lines
            .iter()
            .map(|l| {
                let row = Row {
                    name: l.names.site.clone(),
                    problem: l.has_problem(),
                    sv: render(Lang::Sv, l),
                    en: render(Lang::En, l),
                };
                (l.site.clone(), row)
            })
            .collect();
        Changed { sites, rows }
    }

    /// `site`'s row, if it is there.
    pub fn row(&self, site: &str) -> Option<&Row> {
        self.rows.get(site)
    }
}

/// A word with its number.
pub type Word = (u64, Change);

/// Where the listener says what changed: each word numbered, the last [`BACKLOG`] kept,
/// so that a page's stream can begin with what was said after the page was read. A word's
/// mark is `<epoch>.<number>`: the epoch is this console's start, so a mark from another
/// console process (one restarted since the page was read) is never taken for one of its.
pub struct Live {
    epoch: u64,
    changes: broadcast::Sender<Word>,
    /// The last words, with their numbers; the number of the last word said.
    recent: Mutex<(VecDeque<Word>, u64)>,
}

impl Live {
    fn new() -> Self {
        let (changes, _) = broadcast::channel(BACKLOG);
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // Its start in microseconds: no two starts of one console share it.
        let epoch = u64::try_from(started.as_micros()).unwrap_or(u64::MAX);
        Live { epoch, changes, recent: Mutex::default() }
    }

    /// The mark of word `n`.
    pub fn mark(&self, n: u64) -> String {
        format!("{}.{n}", self.epoch)
    }

    /// The mark of the last word said: a page read after it saw every change it said.
    pub fn said(&self) -> String {
        self.mark(self.recent.lock().map_or(0, |r| r.1))
    }

    /// A stream of what is said from now on (each word with its number), and the words
    /// said after the one `since` marks (a page read then) that are still kept;
    /// [`Change::Missed`] if some are not, or the mark is not one of this console's.
    pub fn subscribe(&self, since: Option<&str>) -> (broadcast::Receiver<Word>, Vec<Word>) {
        let Ok(recent) = self.recent.lock() else { return (self.changes.subscribe(), vec![(0, Change::Missed)]) };
        let rx = self.changes.subscribe();
        let (kept, last) = &*recent;
        let Some(since) = since else { return (rx, Vec::new()) };
        let ours = since.split_once('.').filter(|(epoch, _)| epoch.parse() == Ok(self.epoch));
        let Some(since) = ours.and_then(|(_, n)| n.parse::<u64>().ok()).filter(|n| n <= last) else {
            return (rx, vec![(*last, Change::Missed)]);
        };
        if since < *last && kept.front().is_none_or(|(n, _)| *n > since + 1) {
            return (rx, vec![(*last, Change::Missed)]);
        }
        (rx, kept.iter().filter(|(n, _)| *n > since).cloned().collect())
    }

    fn say(&self, change: Change) {
        let Ok(mut recent) = self.recent.lock() else { return };
        recent.1 += 1;
        let n = recent.1;
        recent.0.push_back((n, change.clone()));
        if recent.0.len() > BACKLOG {
            recent.0.pop_front();
        }
        // Under the lock: a stream subscribing now gets each word once, kept or sent.
        let _ = self.changes.send((n, change));
    }
}

/// Starts listening; what changed is said on the returned [`Live`].
pub fn listen(url: String) -> Arc<Live> {
    let live = Arc::new(Live::new());
    let said = live.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = once(&url, &said).await {
                log::warn!("console: listening for changes: {e}; again in 2 s");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    live
}

/// The names heard and not yet said, shared with the task that drives the connection.
#[derive(Default)]
struct Heard {
    sites: BTreeSet<String>,
    overflowed: bool,
    ended: bool,
}

/// When to say what was heard by `now`, the last word having been said at `last_word`:
/// after the names one transaction notified have come, and a [`PERIOD`] after the last.
fn next_word(now: Instant, last_word: Option<Instant>) -> Instant {
    last_word.map_or(now + SETTLE, |at| (now + SETTLE).max(at + PERIOD))
}

impl Heard {
    /// What was heard, leaving nothing (none if the driver panicked holding it).
    fn take(heard: &Mutex<Heard>) -> Option<Heard> {
        heard.lock().ok().map(|mut h| std::mem::take(&mut *h))
    }
}

async fn once(url: &str, live: &Live) -> Result<(), DbError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    let (client, mut connection) = config.application_name(APPLICATION).connect(NoTls).await?;
    let heard = Arc::new((Mutex::new(Heard::default()), Notify::new()));
    // The connection is driven on its own, for LISTEN and every read to be answered and to
    // hear notifications: it never waits for the listener, and what it hears is bounded by
    // the sites there are.
    let driver = {
        let heard = heard.clone();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            loop {
                let m = messages.next().await;
                let Ok(mut h) = heard.0.lock() else { return };
                match m {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if h.sites.len() < MAX_SITES || h.sites.contains(n.payload()) {
                            h.sites.insert(n.payload().to_owned());
                        } else {
                            h.overflowed = true;
                        }
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => {
                        if let Some(Err(e)) = m {
                            log::warn!("console: {e}");
                        }
                        h.ended = true;
                        drop(h);
                        heard.1.notify_one();
                        return;
                    }
                }
                drop(h);
                heard.1.notify_one();
            }
        })
    };
    let listened = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        // What was read before now may have changed before this connection heard anything.
        live.say(Change::Missed);
        let mut last_word: Option<Instant> = None;
        loop {
            heard.1.notified().await;
            tokio::time::sleep_until(next_word(Instant::now(), last_word)).await;
            let Some(Heard { sites, overflowed, ended }) = Heard::take(&heard.0) else { return Ok(()) };
            if ended {
                return Ok(());
            }
            if sites.is_empty() && !overflowed {
                continue;
            }
            last_word = Some(Instant::now());
            // No page open: nothing is read, but a page being loaded now learns it missed this.
            if overflowed || live.changes.receiver_count() == 0 {
                live.say(Change::Missed);
                continue;
            }
            let sites: Vec<String> = sites.into_iter().collect();
            let lines = fleet_view::lines_of(&client, Some(&sites)).await?;
            live.say(Change::Sites(Arc::new(Changed::new(sites, &lines))));
        }
    };
    let result = listened.await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_after_a_quiet_second_is_said_at_once_and_one_soon_after_a_word_waits_for_the_period() {
        let now = Instant::now();
        assert_eq!(next_word(now, None), now + SETTLE, "nothing said yet");
        assert_eq!(next_word(now, Some(now - Duration::from_secs(5))), now + SETTLE, "quiet for long");
        let said = now - Duration::from_millis(300);
        assert_eq!(next_word(now, Some(said)), said + PERIOD, "at most one word a period");
    }

    fn numbers(words: &[Word]) -> Vec<(u64, bool)> {
        words.iter().map(|(n, c)| (*n, matches!(c, Change::Missed))).collect()
    }

    #[test]
    fn a_pages_stream_begins_after_its_mark_and_reads_all_again_when_words_are_gone_or_the_mark_is_not_ours() {
        let live = Live::new();
        let page = live.said();
        for _ in 0..3 {
            live.say(Change::Sites(Arc::new(Changed::new(vec!["a".into()], &[]))));
        }
        assert_eq!(numbers(&live.subscribe(Some(&page)).1), [(1, false), (2, false), (3, false)], "said since");
        assert_eq!(numbers(&live.subscribe(Some(&live.said())).1), [], "nothing since");
        assert_eq!(numbers(&live.subscribe(None).1), [], "no mark: from now on");
        for _ in 0..BACKLOG {
            live.say(Change::Missed);
        }
        assert_eq!(numbers(&live.subscribe(Some(&page)).1), [(19, true)], "words no longer kept");
        assert_eq!(live.subscribe(Some(&live.mark(3))).1.len(), BACKLOG, "words 4 to 19 kept");
        assert_eq!(numbers(&live.subscribe(Some(&live.mark(2))).1), [(19, true)], "word 3 gone");
        for foreign in ["17.2", "garbage", &format!("{}.99", live.epoch)] {
            assert_eq!(numbers(&live.subscribe(Some(foreign)).1), [(19, true)], "{foreign}: not this console's");
        }
    }

    #[test]
    fn a_changed_sites_row_is_rendered_in_each_language_and_knows_its_problem() {
        let line = SiteLine { site: "a".into(), online: Some(false), ..SiteLine::default() };
        let changed = Changed::new(vec!["a".into(), "gone".into()], &[line]);
        let row = changed.row("a").unwrap();
        assert!(row.problem, "offline");
        assert!(row.html(Lang::Sv).contains(r#"data-site="a""#) && row.html(Lang::Sv).contains("<td>nej</td>"));
        assert!(row.html(Lang::En).contains("<td>no</td>"), "in English");
        assert!(changed.row("gone").is_none(), "a site no longer there has no row");
    }
}
