//! The console's local accounts: a name, a password kept only as an Argon2id hash (memory
//! hard; the PHC string carries its salt and parameters), a role, and for team leaders
//! and caretakers the sites they may see. What each role may do is [`Role::may`].

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio_postgres::Client;

use crate::db::DbError;

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything: every site, acknowledging alarms, the console's log.
    Administrator,
    /// A home-care team leader: their teams' sites, acknowledging their alarms.
    TeamLeader,
    /// A property owner's caretaker: the owner's sites, acknowledging their alarms.
    Caretaker,
    /// Reads every site, acknowledges nothing.
    Auditor,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Acknowledge an alarm of a site it sees.
    Acknowledge,
    /// Read the console's own log.
    ReadLog,
    /// Sample-check reads of personal data.
    CheckReads,
}

impl Role {
    /// The word kept in the database and typed on the command line.
    pub fn word(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::TeamLeader => "team_leader",
            Role::Caretaker => "caretaker",
            Role::Auditor => "auditor",
        }
    }

    /// From its word.
    pub fn from_word(w: &str) -> Option<Self> {
        [Role::Administrator, Role::TeamLeader, Role::Caretaker, Role::Auditor].into_iter().find(|r| r.word() == w)
    }

    /// Whether it sees every site (or only its account's).
    pub fn sees_every_site(self) -> bool {
        matches!(self, Role::Administrator | Role::Auditor)
    }

    /// Whether it may do `right`.
    pub fn may(self, right: Right) -> bool {
        match right {
            Right::Acknowledge => self != Role::Auditor,
            Right::ReadLog => self == Role::Administrator,
            Right::CheckReads => matches!(self, Role::Auditor | Role::Administrator),
        }
    }
}

/// A logged-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The sites it sees (team leaders, caretakers).
    pub sites: Vec<String>,
}

impl Account {
    /// Whether it may see `site`.
    pub fn sees(&self, site: &str) -> bool {
        self.role.sees_every_site() || self.sites.iter().any(|s| s == site)
    }

    /// The sites it sees, as a filter (`None`: every one).
    pub fn scope(&self) -> Option<&[String]> {
        (!self.role.sees_every_site()).then_some(&self.sites[..])
    }
}

/// Why an account could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The database failed.
    #[error("{0}")]
    Db(#[from] DbError),
    /// What was asked is not allowed.
    #[error("{0}")]
    Invalid(String),
}

/// Hashes a password with Argon2id (a fresh random salt).
pub fn hash(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Invalid(format!("the password could not be hashed: {e}")))
}

/// Whether `password` is the one `phc` was made from.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Adds an account, or gives an existing one this password, role and sites; a password
/// that is not the one it had ends its sessions (a changed role or sites apply to them at
/// their next request).
pub async fn add(db: &Client, name: &str, role: Role, sites: &[String], password: &str) -> Result<(), AccountError> {
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AccountError::Invalid(format!("account name {name:?}: 1 to 64 characters, no spaces")));
    }
    if password.chars().count() < 10 {
        return Err(AccountError::Invalid("the password must have at least 10 characters".into()));
    }
    if !role.sees_every_site() && sites.is_empty() {
        return Err(AccountError::Invalid(format!("a {} sees only its sites: give --sites", role.word())));
    }
    let old: Option<String> = db
        .query_opt("SELECT password_hash FROM accounts WHERE name = $1", &[&name])
        .await
        .map_err(DbError::from)?
        .map(|r| r.get(0));
    // The same password keeps its stored hash, and so the account's sessions; unless the
    // hash was changed meanwhile by another `add`, when this one is a new password too.
    if let Some(old) = old.filter(|phc| verify(password, phc)) {
        let kept = db
            .execute(
                "UPDATE accounts SET role = $2, sites = $3 WHERE name = $1 AND password_hash = $4",
                &[&name, &role.word(), &sites, &old],
            )
            .await
            .map_err(DbError::from)?;
        if kept == 1 {
            return Ok(());
        }
    }
    // A new password: the account given it and its sessions ended in one statement (they
    // would no longer be live anyway: each keeps a digest of the hash it was opened with,
    // `session::start`).
    let phc = hash(password)?;
    db.execute(
        "WITH changed AS (
             INSERT INTO accounts (name, password_hash, role, sites) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET password_hash = $2, role = $3, sites = $4
             RETURNING name)
         DELETE FROM sessions WHERE account IN (SELECT name FROM changed)",
        &[&name, &phc, &role.word(), &sites],
    )
    .await
    .map_err(DbError::from)?;
    Ok(())
}

/// Removes an account (its sessions end with it).
pub async fn remove(db: &Client, name: &str) -> Result<bool, DbError> {
    Ok(db.execute("DELETE FROM accounts WHERE name = $1", &[&name]).await? == 1)
}

/// Every account: name, role, sites.
pub async fn list(db: &Client) -> Result<Vec<Account>, DbError> {
    Ok(db
        .query("SELECT name, role, sites FROM accounts ORDER BY name", &[])
        .await?
        .iter()
        .filter_map(|r| {
            Some(Account { name: r.get("name"), role: Role::from_word(r.get("role"))?, sites: r.get("sites") })
        })
        .collect())
}

/// What is stored of an account, to check a password against.
pub struct Stored {
    role: String,
    sites: Vec<String>,
    phc: String,
}

impl Stored {
    /// The stored password hash (PHC string) the password is checked against; a session
    /// opened with it keeps its digest.
    pub fn phc(&self) -> &str {
        &self.phc
    }
}

/// The stored account `name`, if there is one (the connection is free again after).
pub async fn lookup(db: &Client, name: &str) -> Result<Option<Stored>, DbError> {
    let row = db.query_opt("SELECT role, sites, password_hash FROM accounts WHERE name = $1", &[&name]).await?;
    Ok(row.map(|r| Stored { role: r.get("role"), sites: r.get("sites"), phc: r.get("password_hash") }))
}

/// The account when `password` is its own. Argon2 is memory hard and takes its time: on a
/// blocking thread, never on the runtime that serves everyone else's pages, and with no
/// database connection held meanwhile. An unknown name costs the same work as a real one,
/// so that timing tells nobody which names exist.
pub async fn verified(stored: Option<Stored>, name: &str, password: &str) -> Option<Account> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = match &stored {
        Some(s) => s.phc.clone(),
        None => DUMMY.get_or_init(|| hash("no such account").unwrap_or_default()).clone(),
    };
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify(&password, &phc)).await.unwrap_or(false);
    let s = stored.filter(|_| matches)?;
    Role::from_word(&s.role).map(|role| Account { name: name.to_owned(), role, sites: s.sites })
}

/// The account when `password` is its own ([`lookup`] then [`verified`]).
pub async fn check(db: &Client, name: &str, password: &str) -> Result<Option<Account>, DbError> {
    let stored = lookup(db, name).await?;
    Ok(verified(stored, name, password).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash("korrekt häst batteri").expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("korrekt häst batteri", &phc));
        assert!(!verify("korrekt hast batteri", &phc));
        assert!(!verify("korrekt häst batteri", "not a hash"));
        assert_ne!(phc, hash("korrekt häst batteri").expect("hash"), "a fresh salt each time");
    }

    #[test]
    fn team_leaders_and_caretakers_see_their_sites_only_and_auditors_acknowledge_nothing() {
        let leader = Account { name: "ledare".into(), role: Role::TeamLeader, sites: vec!["ekvagen-3".into()] };
        assert!(leader.sees("ekvagen-3") && !leader.sees("storgatan-12"));
        assert_eq!(leader.scope(), Some(&["ekvagen-3".to_owned()][..]));
        let auditor = Account { name: "revisor".into(), role: Role::Auditor, sites: vec![] };
        assert!(auditor.sees("storgatan-12") && auditor.scope().is_none());
        assert!(!Role::Auditor.may(Right::Acknowledge) && Role::Caretaker.may(Right::Acknowledge));
        assert!(Role::Administrator.may(Right::ReadLog) && !Role::TeamLeader.may(Right::ReadLog));
        assert_eq!(Role::from_word("team_leader"), Some(Role::TeamLeader));
        assert_eq!(Role::from_word("root"), None);
    }
}
