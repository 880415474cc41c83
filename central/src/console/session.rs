//! Console sessions and the login limiter. A session is a random 256-bit token in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` when served over TLS); the database
//! keeps only its SHA-256, with a CSRF token every form must carry back, and ends it after
//! 30 minutes idle or 8 hours in all. The limiter refuses a name or an address after 5
//! failed logins within 15 minutes, until the window passes.

use std::collections::HashMap;
use std::io::Read as _;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;

use super::accounts::{Account, Role};
use crate::db::DbError;

/// The cookie's name.
pub const COOKIE: &str = "portvakt_session";
/// A session unused this long ends.
pub const IDLE_MINUTES: i64 = 30;
/// No session lasts longer.
pub const LIFE_HOURS: i64 = 8;

/// A session found for a request.
#[derive(Debug, Clone)]
pub struct Session {
    /// Whose.
    pub account: Account,
    /// The token forms must carry back.
    pub csrf: String,
}

/// 32 random bytes from the kernel.
pub fn random_bytes() -> std::io::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// 32 random bytes from the kernel, as hex.
pub fn random_token() -> std::io::Result<String> {
    Ok(portvakt_wire::hex::encode(&random_bytes()?))
}

/// A token as stored: its SHA-256 (the staff side's sessions too).
pub(crate) fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether a session row is still live (SQL, on the `sessions` row).
fn live() -> String {
    format!("expires_at >= now() AND seen_at >= now() - INTERVAL '{IDLE_MINUTES} minutes'")
}

/// Whether the account `a` still has the password session `s` was opened with (SQL).
const SAME_PASSWORD: &str = "s.password_digest = sha256(convert_to(a.password_hash, 'UTF8'))";

/// Starts a session for `account`, opened with the password whose stored hash is `phc`
/// (the session ends when the account's hash is another; ended sessions are removed on the
/// way); returns the cookie's token.
pub async fn start(db: &Client, account: &str, phc: &str) -> Result<String, DbError> {
    let token = random_token().map_err(|e| DbError::Damaged(format!("no randomness: {e}")))?;
    let csrf = random_token().map_err(|e| DbError::Damaged(format!("no randomness: {e}")))?;
    db.execute(&format!("DELETE FROM sessions WHERE NOT ({})", live()), &[]).await?;
    db.execute(
        &format!(
            "INSERT INTO sessions (token_hash, account, csrf, expires_at, password_digest)
             VALUES ($1, $2, $3, now() + INTERVAL '{LIFE_HOURS} hours', sha256(convert_to($4::text, 'UTF8')))"
        ),
        &[&digest(&token), &account, &csrf, &phc],
    )
    .await?;
    Ok(token)
}

/// A session row (`name`, `role`, `sites`, `csrf`) as a session; none for a role this
/// build does not know.
fn session_of(r: &tokio_postgres::Row) -> Option<Session> {
    let role = Role::from_word(r.get("role"))?;
    Some(Session { account: Account { name: r.get("name"), role, sites: r.get("sites") }, csrf: r.get("csrf") })
}

/// The live session of `token`, touched.
pub async fn find(db: &Client, token: &str) -> Result<Option<Session>, DbError> {
    let row = db
        .query_opt(
            &format!(
                "UPDATE sessions s SET seen_at = now() FROM accounts a
                 WHERE s.token_hash = $1 AND a.name = s.account AND {} AND {SAME_PASSWORD}
                 RETURNING a.name, a.role, a.sites, s.csrf",
                live()
            ),
            &[&digest(token)],
        )
        .await?;
    Ok(row.as_ref().and_then(session_of))
}

/// The live session of `token`, as it is now, without touching it: the live stream asks
/// this at every change it would send and every half minute, so it ends with the session
/// (logout, expiry, the account removed) and follows a change of the account's sites, and
/// its traffic never keeps an idle session alive.
pub async fn peek(db: &Client, token: &str) -> Result<Option<Session>, DbError> {
    let row = db
        .query_opt(
            &format!(
                "SELECT a.name, a.role, a.sites, s.csrf FROM sessions s JOIN accounts a ON a.name = s.account
                 WHERE s.token_hash = $1 AND {} AND {SAME_PASSWORD}",
                live()
            ),
            &[&digest(token)],
        )
        .await?;
    Ok(row.as_ref().and_then(session_of))
}

/// Ends the session of `token`.
pub async fn end(db: &Client, token: &str) -> Result<(), DbError> {
    db.execute("DELETE FROM sessions WHERE token_hash = $1", &[&digest(token)]).await?;
    Ok(())
}

/// The value of cookie `name` in a `Cookie` header's text, if any.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').map(str::trim).find_map(|c| c.strip_prefix(name)?.strip_prefix('='))
}

/// Counts failed logins per key, each with its own ceiling within [`WINDOW`].
#[derive(Debug, Default)]
pub struct Limiter {
    failures: HashMap<String, Vec<Instant>>,
}

/// Failed logins allowed within [`WINDOW`] for one name from one address: a guesser is
/// slowed at once, and an office behind one address is not locked out by one colleague.
pub const MAX_FAILURES: usize = 5;
/// Failed logins allowed for one name from anywhere (a guesser spread over addresses).
pub const MAX_PER_NAME: usize = 30;
/// Failed logins allowed from one address over every name (a guesser trying names).
pub const MAX_PER_ADDRESS: usize = 100;
/// The limiter's window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The keys a login attempt counts against, with their ceilings.
pub fn login_keys(name: &str, address: &str) -> [(String, usize); 3] {
    [
        (format!("pair\0{name}\0{address}"), MAX_FAILURES),
        (format!("name\0{name}"), MAX_PER_NAME),
        (format!("address\0{address}"), MAX_PER_ADDRESS),
    ]
}

impl Limiter {
    /// Whether any of `keys` has used up its failures at `now`.
    pub fn blocked(&mut self, keys: &[(String, usize)], now: Instant) -> bool {
        keys.iter().any(|(k, max)| {
            let f = self.failures.entry(k.clone()).or_default();
            f.retain(|t| now.duration_since(*t) < WINDOW);
            f.len() >= *max
        })
    }

    /// Counts an attempt against each of `keys` before it is verified, so that attempts
    /// made at once (40 guesses in parallel) cannot all pass before the first has failed;
    /// `false` when one of them has used up its failures (then nothing is counted).
    pub fn attempt(&mut self, keys: &[(String, usize)], now: Instant) -> bool {
        if self.blocked(keys, now) {
            return false;
        }
        self.failed(keys, now);
        true
    }

    /// Takes back the attempt counted at `now` for `keys`: it succeeded, or the password
    /// was never checked (the database failed).
    pub fn succeeded(&mut self, keys: &[(String, usize)], now: Instant) {
        for (k, _) in keys {
            if let Some(f) = self.failures.get_mut(k)
                && let Some(at) = f.iter().rposition(|t| *t == now)
            {
                f.remove(at);
            }
        }
    }

    /// Counts a failure for each of `keys`.
    pub fn failed(&mut self, keys: &[(String, usize)], now: Instant) {
        if self.failures.len() > 10_000 {
            self.failures.retain(|_, f| f.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for (k, _) in keys {
            self.failures.entry(k.clone()).or_default().push(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_colleague_guessing_wrong_does_not_lock_out_an_office_behind_one_address() {
        let mut l = Limiter::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES {
            l.failed(&login_keys("lena", "10.0.0.1"), now);
        }
        assert!(l.blocked(&login_keys("lena", "10.0.0.1"), now), "lena from the office is slowed");
        assert!(!l.blocked(&login_keys("greta", "10.0.0.1"), now), "greta at the next desk is not");
        assert!(!l.blocked(&login_keys("lena", "10.0.0.9"), now), "lena from elsewhere is not");
        for i in 0..MAX_PER_NAME {
            l.failed(&login_keys("lena", &format!("192.0.2.{i}")), now);
        }
        assert!(l.blocked(&login_keys("lena", "10.0.0.9"), now), "a guesser spread over addresses is");
        assert!(!l.blocked(&login_keys("lena", "10.0.0.1"), now + WINDOW), "for the window only");
    }

    #[test]
    fn attempts_made_at_once_are_counted_before_any_is_verified() {
        let mut l = Limiter::default();
        let now = Instant::now();
        let keys = login_keys("lena", "10.0.0.1");
        let passed = (0..40).filter(|_| l.attempt(&keys, now)).count();
        assert_eq!(passed, MAX_FAILURES, "only as many guesses as the pair allows reach the password check");
        let mut l = Limiter::default();
        for _ in 0..10 {
            assert!(l.attempt(&keys, now));
            l.succeeded(&keys, now);
        }
        assert!(!l.blocked(&keys, now), "logins that succeed do not count");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(cookie("lang=sv; portvakt_session=abc123; x=y", COOKIE), Some("abc123"));
        assert_eq!(cookie("portvakt_session_old=zzz", COOKIE), None);
        assert_eq!(cookie("", COOKIE), None);
    }

    #[test]
    fn tokens_are_256_bits_and_differ() {
        let (a, b) = (random_token().expect("token"), random_token().expect("token"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
