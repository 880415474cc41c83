//! The console over HTTP against a real PostgreSQL (run by `scripts/interop.sh`): who
//! sees what (a team leader is refused another site's page, live fragment, CSV and alarm,
//! each refusal logged with who), sessions that end (logout, the account removed, idling;
//! a live page's own fetches do not keep one alive), the live stream (only the account's
//! sites; ended at logout, and with `scope` when the account's sites change), and a form
//! posted from another site refused, the login form included. The same in a real browser
//! is `tests/browser/console.test.mjs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{cookie_value, header, request, unchunk};
use common::{count, pg};
use portvakt_central::alarms::Rules;
use portvakt_central::console::{self, accounts, accounts::Role};
use portvakt_central::fleet::{self, Observation};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PASSWORD: &str = "ett-langt-losenord";
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

async fn serve(db: &str) -> SocketAddr {
    let (ready, bound) = tokio::sync::oneshot::channel();
    tokio::spawn(console::serve(common::console_options(db), Some(ready)));
    bound.await.unwrap()
}

/// Two named sites, site-b with a strike fault's alarm (its id); an administrator and a
/// team leader who sees site-a only.
async fn two_sites_and_two_accounts(c: &tokio_postgres::Client) -> i64 {
    let now = jiff::Timestamp::now();
    for (site, name) in [("site-a", "Storgatan 12"), ("site-b", "Ekvägen 3")] {
        let state = format!(
            r#"{{"running":true,"names":{{"site":"{name}","doors":[{{"door":"entrance","name":"Porten"}}]}}}}"#
        );
        fleet::observe(c, site, &Observation::State(&state), now, &Rules::default()).await.unwrap();
    }
    let fault = Observation::Door("entrance", r#"{"strike_fault":true}"#);
    fleet::observe(c, "site-b", &fault, now, &Rules::default()).await.unwrap();
    accounts::add(c, "kristina", Role::Administrator, &[], PASSWORD).await.unwrap();
    accounts::add(c, "lena", Role::TeamLeader, &["site-a".into()], PASSWORD).await.unwrap();
    c.query_one("SELECT id FROM alarms WHERE site = 'site-b'", &[]).await.unwrap().get(0)
}

/// Logs `name` in; its session cookie.
async fn login(addr: SocketAddr, name: &str) -> String {
    let body = format!("name={name}&password={PASSWORD}");
    let (status, head, body) = request(addr, "POST", "/login", &[FORM], &body).await;
    assert_eq!(status, 303, "{body}");
    cookie_value(&head, "portvakt_session")
}

/// A GET with `cookie` (and `more` headers): status and body.
async fn get(addr: SocketAddr, path: &str, cookie: &str, more: &[(&str, &str)]) -> (u16, String) {
    let mut headers = vec![("Cookie", cookie)];
    headers.extend_from_slice(more);
    let (status, _, body) = request(addr, "GET", path, &headers, "").await;
    (status, unchunk(&body))
}

/// The CSRF token a page's forms carry.
fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_leader_is_refused_other_sites_everywhere_each_refusal_logged_and_no_answer_tells_which_exist() {
    let (pg, c) = pg().await;
    let alarm = two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let lena = login(addr, "lena").await;

    let (status, own) = get(addr, "/sites/site-a", &lena, &[]).await;
    assert_eq!(status, 200);
    assert!(own.contains("<h1>Storgatan 12</h1>"), "her own site, by name: {own}");
    // Found by her site's name, which is not its id; another site's name finds nothing.
    let (_, fleet) = get(addr, "/?q=STORGATAN", &lena, &[]).await;
    assert!(fleet.contains(r#"data-site="site-a""#), "by a part of its name");
    let (status, searched) = get(addr, "/visits?purpose=invoicing&site=Storgatan%2012", &lena, &[]).await;
    assert_eq!(status, 200, "her site's whole name, no hint: {searched}");
    let (status, other) = get(addr, "/visits?purpose=invoicing&site=Ekv%C3%A4gen", &lena, &[]).await;
    assert!(status == 400 && other.contains("Ingen av dina anläggningar"), "{status}: another site's name");
    for path in ["/sites/site-b", "/fragments/sites/site-b/doors"] {
        assert_eq!(get(addr, path, &lena, &[]).await.0, 403, "{path}");
    }
    // Another site's own id in a visit search finds nothing of it, and says so as for any
    // search that matches none of her sites; the console's log has the read she tried.
    let (status, csv) = get(addr, "/visits.csv?site=site-b&purpose=invoicing", &lena, &[]).await;
    assert!(
        status == 400 && csv.contains("Ingen av dina anläggningar") && !csv.contains("Ekvägen 3"),
        "{status}: {csv}"
    );
    let (status, alarms) = get(addr, "/alarms", &lena, &[]).await;
    assert_eq!(status, 200);
    assert!(!alarms.contains("Ekvägen 3") && !alarms.contains("site-b"), "another site's alarm is not shown");
    let token = csrf(&alarms);
    let ack = format!("csrf={token}");
    let (status, _, _) = request(addr, "POST", &format!("/alarms/{alarm}/ack"), &[("Cookie", &lena), FORM], &ack).await;
    assert_eq!(status, 403, "another site's alarm is not hers to acknowledge");
    let acked = count(&c, "SELECT count(*) FROM alarms WHERE acknowledged_at IS NOT NULL").await;
    assert_eq!(acked, 0);
    let refused = count(&c, "SELECT count(*) FROM console_log WHERE action = 'refused' AND account = 'lena'").await;
    assert_eq!(refused, 4, "every refusal has its line, with who");
    // An id no site has is answered as another site's is: the answer tells nothing of
    // which sites exist; only the read of a real one is in the log.
    let mut pages = Vec::new();
    for other in ["site-b", "site-x"] {
        let (status, page) = get(addr, &format!("/visits?purpose=invoicing&site={other}"), &lena, &[]).await;
        assert_eq!(status, 400, "{other}: {page}");
        pages.push(page.replace(other, "…"));
    }
    assert_eq!(pages[0], pages[1], "the same page whether the site exists or not");
    let refused = count(&c, "SELECT count(*) FROM console_log WHERE action = 'refused' AND account = 'lena'").await;
    assert_eq!(refused, 5, "the tried read of site-b logged, site-x being no site");

    // The administrator acknowledges it; the log says so in facts shown as words.
    let kristina = login(addr, "kristina").await;
    let token = csrf(&get(addr, "/alarms", &kristina, &[]).await.1);
    let (status, _, _) = request(
        addr,
        "POST",
        &format!("/alarms/{alarm}/ack"),
        &[("Cookie", &kristina), FORM],
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(status, 303);
    let (_, log) = get(addr, "/log", &kristina, &[]).await;
    assert!(log.contains("Kvitterade larm") && log.contains(&format!("larm {alarm}")), "{log}");
    assert_eq!(get(addr, "/log", &lena, &[]).await.0, 403, "a team leader does not read the console's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_at_logout_a_new_password_removal_and_idling_and_live_fetches_do_not_keep_it_alive() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let seen = || async {
        let at: jiff::Timestamp = c
            .query_one("SELECT (extract(epoch FROM seen_at) * 1000)::bigint FROM sessions", &[])
            .await
            .map(|r| jiff::Timestamp::from_millisecond(r.get(0)).unwrap())
            .unwrap();
        at
    };

    // Idling: a live page's own fetches leave it idle; what a person does does not.
    let lena = login(addr, "lena").await;
    c.execute("UPDATE sessions SET seen_at = now() - INTERVAL '20 minutes'", &[]).await.unwrap();
    let before = seen().await;
    assert_eq!(get(addr, "/fragments/fleet", &lena, &[("X-Portvakt-Live", "1")]).await.0, 200);
    assert_eq!(seen().await, before, "a live fetch is no use of the session");
    c.execute("UPDATE sessions SET seen_at = now() - INTERVAL '31 minutes'", &[]).await.unwrap();
    let (status, _, _) = request(addr, "GET", "/", &[("Cookie", &lena)], "").await;
    assert_eq!(status, 303, "idle for 31 minutes: to the login page");

    // Logout.
    let lena = login(addr, "lena").await;
    let token = csrf(&get(addr, "/", &lena, &[]).await.1);
    let (status, _, _) = request(addr, "POST", "/logout", &[("Cookie", &lena), FORM], &format!("csrf={token}")).await;
    assert_eq!(status, 303);
    assert_eq!(request(addr, "GET", "/", &[("Cookie", &lena)], "").await.0, 303, "logged out");

    // A new password (`account add` again): the sessions opened with the old one end.
    let lena = login(addr, "lena").await;
    assert_eq!(get(addr, "/", &lena, &[]).await.0, 200);
    accounts::add(&c, "lena", Role::TeamLeader, &["site-a".into()], "ett-nytt-langt-losenord").await.unwrap();
    assert_eq!(request(addr, "GET", "/", &[("Cookie", &lena)], "").await.0, 303, "a new password");
    // A login checked against the old password while the new one was being given opens no
    // live session: a session lives only with the password hash it was opened with.
    let old = accounts::lookup(&c, "lena").await.unwrap().unwrap().phc().to_owned();
    accounts::add(&c, "lena", Role::TeamLeader, &["site-a".into()], PASSWORD).await.unwrap();
    let late = console::session::start(&c, "lena", &old).await.unwrap();
    let late = format!("portvakt_session={late}");
    assert_eq!(request(addr, "GET", "/", &[("Cookie", &late)], "").await.0, 303, "opened with the old password");

    // The account removed.
    let lena = login(addr, "lena").await;
    assert_eq!(get(addr, "/", &lena, &[]).await.0, 200);
    accounts::remove(&c, "lena").await.unwrap();
    assert_eq!(request(addr, "GET", "/", &[("Cookie", &lena)], "").await.0, 303, "removed");
}

/// An open event stream: what it has said so far, read as it comes.
struct Stream {
    socket: tokio::net::TcpStream,
    said: String,
    /// What was read, whole (a character may come split over two reads).
    bytes: Vec<u8>,
}

impl Stream {
    async fn open(addr: SocketAddr, cookie: &str) -> Self {
        Self::open_at(addr, "/events", cookie).await
    }

    /// The stream at `path` (`/events` with a page's query).
    async fn open_at(addr: SocketAddr, path: &str, cookie: &str) -> Self {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
        socket.write_all(req.as_bytes()).await.unwrap();
        let mut s = Stream { socket, said: String::new(), bytes: Vec::new() };
        assert!(s.until(|t| t.contains("\r\n\r\n"), Duration::from_secs(5)).await, "the stream's head");
        assert!(s.said.starts_with("HTTP/1.1 200"), "{}", s.said);
        s
    }

    /// Keeps `bytes`; `said` is what they say up to the last whole character (so that a
    /// length of it taken once stays a place in it).
    fn heard(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        let whole = match std::str::from_utf8(&self.bytes) {
            Ok(all) => all,
            Err(e) => std::str::from_utf8(&self.bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
        self.said = whole.to_owned();
    }

    /// Reads until `done` holds of what was said (true), or the stream ends or `within`
    /// passes (false).
    async fn until(&mut self, done: impl Fn(&str) -> bool, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 4096];
        while !done(&self.said) {
            match tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.heard(&buf[..n]),
                _ => return false,
            }
        }
        true
    }

    /// Whether the server ended the stream (the last chunk, then the connection closed).
    async fn ended(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(n)) => self.heard(&buf[..n]),
                Err(_) => return false,
            }
        }
    }
}

/// Notifies `site`'s change until `stream` has said something of it (the console's
/// listener connects to PostgreSQL on its own time) — or it ended.
async fn notify_until(c: &tokio_postgres::Client, site: &str, stream: &mut Stream, said: &str) -> bool {
    for _ in 0..50 {
        fleet::notify(c, site).await.unwrap();
        if stream.until(|t| t.contains(said), Duration::from_millis(200)).await {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_names_only_the_accounts_sites_and_ends_at_logout_and_with_scope_at_a_change_of_sites() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let (lena, kristina) = (login(addr, "lena").await, login(addr, "kristina").await);

    let mut stream = Stream::open_at(addr, "/events?rows=1", &lena).await;
    let mut everything = Stream::open(addr, &kristina).await;
    assert!(notify_until(&c, "site-a", &mut stream, r#""site-a""#).await, "her site's change: {}", stream.said);
    // Another site's change, heard by who sees it...
    let seen = everything.said.len();
    fleet::notify(&c, "site-b").await.unwrap();
    assert!(everything.until(|t| t[seen..].contains("site-b"), Duration::from_secs(5)).await, "{}", everything.said);
    // ...then one of hers, read after it: once she has that, she has had every word before.
    rename(&c, "site-a", "Storgatan 99").await;
    assert!(stream.until(|t| t.contains("Storgatan 99"), Duration::from_secs(5)).await, "{}", stream.said);
    assert!(!stream.said.contains("site-b"), "another site's change is not hers to hear: {}", stream.said);

    // Her sites change: the stream says `scope` and ends (the page loads itself again).
    accounts::add(&c, "lena", Role::TeamLeader, &["site-a".into(), "site-b".into()], PASSWORD).await.unwrap();
    assert!(notify_until(&c, "site-a", &mut stream, "event: scope").await, "{}", stream.said);
    assert!(stream.ended(Duration::from_secs(5)).await, "the stream ends after scope");

    // The session ended (as at logout or expiry): the next change finds none, and the
    // stream ends without a word.
    let mut stream = Stream::open(addr, &lena).await;
    assert!(notify_until(&c, "site-b", &mut stream, r#""site-b""#).await, "now hers: {}", stream.said);
    c.execute("DELETE FROM sessions", &[]).await.unwrap();
    fleet::notify(&c, "site-a").await.unwrap();
    assert!(stream.ended(Duration::from_secs(5)).await, "the stream ends with the session");
    assert!(!stream.said.contains("scope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_from_another_site_is_refused_the_login_form_included_and_logged() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let body = format!("name=lena&password={PASSWORD}");
    let elsewhere = [FORM, ("Origin", "https://elsewhere.example")];
    let (status, head, _) = request(addr, "POST", "/login", &elsewhere, &body).await;
    assert_eq!(status, 403, "a login form from another origin");
    assert!(header(&head, "set-cookie", "portvakt_session=").is_none(), "no session for it");
    let cross = [FORM, ("Sec-Fetch-Site", "cross-site")];
    assert_eq!(request(addr, "POST", "/login", &cross, &body).await.0, 403, "a login the browser marked cross-site");
    let lena = login(addr, "lena").await;
    let token = csrf(&get(addr, "/", &lena, &[]).await.1);
    let logout = [("Cookie", lena.as_str()), FORM, ("Origin", "https://elsewhere.example")];
    assert_eq!(request(addr, "POST", "/logout", &logout, &format!("csrf={token}")).await.0, 403, "with a valid token");
    let logged =
        count(&c, "SELECT count(*) FROM console_log WHERE action = 'refused' AND detail LIKE 'POST /log%'").await;
    assert_eq!(logged, 3, "each refusal logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_sites_row_comes_in_the_live_stream_as_each_viewers_page_shows_it_and_only_to_who_sees_it() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let (lena, kristina) = (login(addr, "lena").await, login(addr, "kristina").await);
    // Lena's fleet page as it opens, in Swedish; Kristina's in English, only problems.
    let mut hers = Stream::open_at(addr, "/events?rows=1", &lena).await;
    let mut problems = Stream::open_at(addr, "/events?rows=1&problems=1&lang=en", &kristina).await;
    let mut names = Stream::open(addr, &kristina).await;
    assert!(notify_until(&c, "site-a", &mut hers, "Storgatan 12").await, "listening: {}", hers.said);
    let heard = (hers.said.len(), problems.said.len(), names.said.len());

    // Both sites renamed and given a bundle by their gateways' next state, and notified
    // together, as one batch of the collectors does.
    let now = jiff::Timestamp::now();
    for (site, name) in [("site-a", "Storgatan 14"), ("site-b", "Ekvägen 5")] {
        let state = format!(
            r#"{{"running":true,"names":{{"site":"{name}"}},"bundles":[{{"authority":"kommunen","age_days":2,"expires_in_hours":240}}]}}"#
        );
        fleet::observe(&c, site, &Observation::State(&state), now, &Rules::default()).await.unwrap();
    }
    c.batch_execute(
        "BEGIN; SELECT pg_notify('portvakt_fleet', 'site-a'); SELECT pg_notify('portvakt_fleet', 'site-b'); COMMIT",
    )
    .await
    .unwrap();
    let within = Duration::from_secs(5);
    assert!(hers.until(|t| t[heard.0..].contains("Storgatan 14"), within).await, "{}", hers.said);
    let row = &hers.said[heard.0..];
    assert!(row.contains("event: sites") && row.contains(r#"data-site=\"site-a\""#), "her site's row: {row}");
    assert!(row.contains("2 d gammal, 10 d kvar"), "in her page's language: {row}");
    assert!(!row.contains("site-b") && !row.contains("Ekv"), "not another site's: {row}");

    // Only problems shown: site-b's row (an open alarm), site-a's said to be not shown; read
    // until a whole event has come (it ends its chunk).
    let both = |t: &str| t.contains(r#""site-a""#) && t.contains("Ekvägen 5") && t.ends_with("\n\n\r\n");
    assert!(problems.until(|t| both(&t[heard.1..]), within).await, "{}", problems.said);
    let said = words(&problems.said[heard.1..]);
    assert_eq!(said["site-a"], "", "no problem at site-a: not on her page: {said:?}");
    assert!(said["site-b"].as_str().unwrap().contains("2 d old, 10 d left"), "in English: {said:?}");

    // A page without a table of sites is told the names only.
    let both = |t: &str| t.contains(r#""site-a""#) && t.contains(r#""site-b""#) && t.ends_with("\n\n\r\n");
    assert!(names.until(|t| both(&t[heard.2..]), within).await, "{}", names.said);
    let said = words(&names.said[heard.2..]);
    assert!(said["site-a"].is_null() && said["site-b"].is_null(), "{said:?}");

    // A row fetched as a page's own is still only for who sees its site.
    let live = [("X-Portvakt-Live", "1")];
    assert!(get(addr, "/fragments/fleet?only=site-b", &kristina, &live).await.1.contains("Ekvägen 5"));
    let hers = get(addr, "/fragments/fleet?only=site-b", &lena, &live).await.1;
    assert!(!hers.contains("Ekv") && !hers.contains("site-b"), "{hers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pages_stream_begins_with_what_changed_after_the_page_was_read_and_one_read_long_ago_reads_all_again() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let (lena, kristina) = (login(addr, "lena").await, login(addr, "kristina").await);
    let mut witness = Stream::open(addr, &kristina).await;
    assert!(notify_until(&c, "site-b", &mut witness, r#""site-b""#).await, "listening: {}", witness.said);

    let (_, page) = get(addr, "/", &lena, &[]).await;
    let since = page.split(r#"data-since=""#).nth(1).and_then(|t| t.split('"').next()).expect("the page's number");
    let seen = witness.said.len();
    rename(&c, "site-a", "Storgatan 77").await;
    assert!(witness.until(|t| t[seen..].contains("site-a"), Duration::from_secs(5)).await, "{}", witness.said);
    // Her page's stream opened only now, with the page's number: the change said between
    // comes first, with no notification after it.
    let mut hers = Stream::open_at(addr, &format!("/events?rows=1&since={since}"), &lena).await;
    assert!(hers.until(|t| t.contains("Storgatan 77"), Duration::from_secs(5)).await, "{}", hers.said);
    // A number from before the kept words (here, before the listener's first): read all again.
    let mut old = Stream::open_at(addr, "/events?since=0", &lena).await;
    assert!(old.until(|t| t.contains("event: missed"), Duration::from_secs(5)).await, "{}", old.said);
}

/// Every whole `sites` word in `said`, merged: each site to what the last word said of it.
fn words(said: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut merged = serde_json::Map::new();
    let whole = &said[..said.rfind("\n\n").unwrap_or(0)];
    for data in whole.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).filter(|d| d.starts_with('{')) {
        let word: serde_json::Map<String, serde_json::Value> = serde_json::from_str(data).unwrap();
        merged.extend(word);
    }
    merged
}

/// `site` renamed by its gateway's next state, as the collectors observe it (they notify).
async fn rename(c: &tokio_postgres::Client, site: &str, name: &str) {
    let state = format!(r#"{{"running":true,"names":{{"site":"{name}"}}}}"#);
    fleet::observe(c, site, &Observation::State(&state), jiff::Timestamp::now(), &Rules::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_is_told_to_read_everything_again_when_the_console_lost_its_database_listener() {
    let (pg, c) = pg().await;
    two_sites_and_two_accounts(&c).await;
    let addr = serve(&pg.url).await;
    let lena = login(addr, "lena").await;
    let mut stream = Stream::open(addr, &lena).await;
    assert!(notify_until(&c, "site-a", &mut stream, r#""site-a""#).await, "listening: {}", stream.said);
    // The listener's connection is cut (as a restart of PostgreSQL does): what was notified
    // until it is back is not known, so the page reads all it shows again.
    let cut = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'portvakt-console-listener'";
    assert_eq!(count(&c, cut).await, 1, "the console's listener");
    assert!(stream.until(|t| t.contains("event: missed"), Duration::from_secs(15)).await, "{}", stream.said);
}
