//! The staff tables in PostgreSQL (`migrations/0010_staff.sql`): the roster replaced whole
//! in one transaction, people disabled (kept across rosters), single-use nonces, and every
//! certificate issued recorded before it is handed out.

use jiff::Timestamp;
use tokio_postgres::Client;

use super::roster::{Person, Roster, Team};
use crate::console::session::digest;
use crate::db::DbError;

/// How long a nonce for a key proof holds.
pub const NONCE_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

fn ts(t: Timestamp) -> std::time::SystemTime {
    std::time::SystemTime::from(t)
}

/// Replaces the roster whole: teams and people not in it are gone (their issued
/// certificates' records stay); who was disabled stays disabled.
pub async fn replace_roster(client: &mut Client, roster: &Roster) -> Result<(usize, usize), DbError> {
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM staff_people", &[]).await?;
    tx.execute("DELETE FROM staff_teams", &[]).await?;
    tx.execute("DELETE FROM staff_door_names", &[]).await?;
    for (door, name) in &roster.door_names {
        tx.execute("INSERT INTO staff_door_names (door, name) VALUES ($1, $2)", &[door, name]).await?;
    }
    for t in &roster.teams {
        tx.execute(
            "INSERT INTO staff_teams (id, name, role, doors) VALUES ($1, $2, $3, $4)",
            &[&t.id, &t.name, &t.role, &t.doors],
        )
        .await?;
    }
    for p in &roster.people {
        tx.execute(
            "INSERT INTO staff_people (login, holder, name, team, authority) VALUES ($1, $2, $3, $4, $5)",
            &[&p.login, &p.holder, &p.name, &p.team, &roster.authority],
        )
        .await?;
    }
    tx.commit().await?;
    Ok((roster.teams.len(), roster.people.len()))
}

/// What people call `doors` (those with a name in the roster).
pub async fn door_names(
    client: &Client,
    doors: &[String],
) -> Result<std::collections::BTreeMap<String, String>, DbError> {
    let rows = client.query("SELECT door, name FROM staff_door_names WHERE door = ANY($1)", &[&doors]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The person who signs in as `login`, their team, and whether they may have new
/// certificates (not disabled).
pub async fn person(client: &Client, login: &str) -> Result<Option<(Person, Team, bool)>, DbError> {
    let row = client
        .query_opt(
            "SELECT p.login, p.holder, p.name, p.team, t.name, t.role, t.doors, d.holder IS NULL \
             FROM staff_people p JOIN staff_teams t ON t.id = p.team \
             LEFT JOIN staff_disabled d ON d.holder = p.holder WHERE p.login = $1",
            &[&login],
        )
        .await?;
    Ok(row.map(|r| {
        let person = Person { login: r.get(0), holder: r.get(1), name: r.get(2), team: r.get(3) };
        let team = Team { id: r.get(3), name: r.get(4), role: r.get(5), doors: r.get(6) };
        (person, team, r.get(7))
    }))
}

/// Disables a person by holder id: no new certificates from now. Returns the ids of
/// their certificates still valid at `now` (to revoke).
pub async fn disable(client: &Client, holder: &str, by: &str, now: Timestamp) -> Result<Vec<String>, DbError> {
    client
        .execute(
            "INSERT INTO staff_disabled (holder, disabled_by) VALUES ($1, $2) ON CONFLICT (holder) DO NOTHING",
            &[&holder, &by],
        )
        .await?;
    let rows = client
        .query(
            "SELECT id FROM staff_certificates WHERE holder = $1 AND not_after > $2 ORDER BY issued_at",
            &[&holder, &ts(now)],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Enables a disabled person again.
pub async fn enable(client: &Client, holder: &str) -> Result<bool, DbError> {
    Ok(client.execute("DELETE FROM staff_disabled WHERE holder = $1", &[&holder]).await? == 1)
}

/// Keeps a fresh nonce for `holder`'s key proof (expired ones are cleared on the way).
pub async fn new_nonce(client: &Client, holder: &str, nonce: &[u8; 32], now: Timestamp) -> Result<(), DbError> {
    client.execute("DELETE FROM staff_nonces WHERE expires < $1", &[&ts(now)]).await?;
    client
        .execute(
            "INSERT INTO staff_nonces (nonce, holder, expires) VALUES ($1, $2, $3)",
            &[&nonce.as_slice(), &holder, &ts(now + NONCE_LIFETIME)],
        )
        .await?;
    Ok(())
}

/// Spends `holder`'s nonce: true once, if it was theirs and still fresh at `now`.
pub async fn spend_nonce(client: &Client, holder: &str, nonce: &[u8; 32], now: Timestamp) -> Result<bool, DbError> {
    let n = client
        .execute(
            "DELETE FROM staff_nonces WHERE nonce = $1 AND holder = $2 AND expires >= $3",
            &[&nonce.as_slice(), &holder, &ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// What is recorded of an issued certificate.
#[derive(Debug, Clone)]
pub struct Issued<'a> {
    /// The certificate.
    pub cert: &'a portvakt_wire::certificate::PhoneCertificate,
    /// The team it was issued for.
    pub team: &'a str,
    /// `ed25519` or `p256`.
    pub key_kind: &'a str,
}

/// Records an issued certificate (before it is handed out); false, and nothing recorded,
/// when the person was disabled meanwhile (so `disable` lists every certificate that was
/// ever handed out).
pub async fn record(client: &Client, i: &Issued<'_>) -> Result<bool, DbError> {
    let c = i.cert;
    let n = client
        .execute(
            "INSERT INTO staff_certificates (id, holder, team, key_id, key_kind, doors, not_before, not_after) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE NOT EXISTS (SELECT 1 FROM staff_disabled WHERE holder = $2)",
            &[
                &c.id,
                &c.holder,
                &i.team,
                &c.phone_key.as_slice(),
                &i.key_kind,
                &c.doors,
                &ts(c.not_before),
                &ts(c.not_after),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// How long a sign-in at the provider may take.
pub const LOGIN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// Sign-ins under way at once, at most: an unauthenticated client can begin them, so
/// the table is bounded.
pub const MAX_LOGINS: i64 = 10_000;

/// Keeps a sign-in under way (expired ones are cleared on the way); false when
/// [`MAX_LOGINS`] are under way.
pub async fn begin_login(
    client: &Client,
    state: &str,
    nonce: &str,
    verifier: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    client.execute("DELETE FROM staff_logins WHERE expires < $1", &[&ts(now)]).await?;
    let n = client
        .execute(
            "INSERT INTO staff_logins (state, nonce, verifier, expires) SELECT $1, $2, $3, $4 \
             WHERE (SELECT count(*) FROM staff_logins) < $5",
            &[&state, &nonce, &verifier, &ts(now + LOGIN_LIFETIME), &MAX_LOGINS],
        )
        .await?;
    Ok(n == 1)
}

/// Takes a sign-in under way, once: its nonce and PKCE verifier.
pub async fn take_login(client: &Client, state: &str, now: Timestamp) -> Result<Option<(String, String)>, DbError> {
    let row = client
        .query_opt(
            "DELETE FROM staff_logins WHERE state = $1 AND expires >= $2 RETURNING nonce, verifier",
            &[&state, &ts(now)],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Starts a staff session until `expires` (ended ones are cleared on the way).
pub async fn start_session(
    client: &Client,
    token: &str,
    holder: &str,
    login: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), DbError> {
    client.execute("DELETE FROM staff_sessions WHERE expires < $1", &[&ts(now)]).await?;
    client
        .execute(
            "INSERT INTO staff_sessions (token_hash, holder, login, expires) VALUES ($1, $2, $3, $4)",
            &[&digest(token), &holder, &login, &ts(expires)],
        )
        .await?;
    Ok(())
}

/// The login of a live staff session, and when it ends.
pub async fn session(client: &Client, token: &str, now: Timestamp) -> Result<Option<(String, Timestamp)>, DbError> {
    let row = client
        .query_opt(
            "SELECT login, expires FROM staff_sessions WHERE token_hash = $1 AND expires >= $2",
            &[&digest(token), &ts(now)],
        )
        .await?;
    Ok(row.map(|r| {
        let ends: std::time::SystemTime = r.get(1);
        (r.get(0), Timestamp::try_from(ends).unwrap_or(now))
    }))
}

/// Ends a staff session.
pub async fn end_session(client: &Client, token: &str) -> Result<(), DbError> {
    client.execute("DELETE FROM staff_sessions WHERE token_hash = $1", &[&digest(token)]).await?;
    Ok(())
}

/// Ends every session of a person (disabled).
pub async fn end_sessions_of(client: &Client, holder: &str) -> Result<u64, DbError> {
    Ok(client.execute("DELETE FROM staff_sessions WHERE holder = $1", &[&holder]).await?)
}
