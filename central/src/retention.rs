//! Retention classes in Central (`docs/central.md`, Retention): the personal parts of the
//! audiences this Central reads (its own staff's visits: the municipality's setting,
//! default 5 years) and of every other audience (kept sealed, unreadable here: default
//! 14 days, the residents' class) are erased when their period ends — holder,
//! credential, salt and the sealed part deleted, `erased_at` set — while header and
//! commitment stay, so `verify` still says intact and counts them. (Equivocations and the
//! stored payloads never hold a sealed part: it is kept apart from the message at ingest.)
//! Format 1 records (from before audiences) hash their names and are left as they are.

use jiff::{SignedDuration, Timestamp};
use tokio_postgres::Client;

use crate::db::DbError;

/// Days the audiences' parts this Central reads stay by default (five years).
pub const OWN_DAYS: u32 = 1826;
/// Days other audiences' sealed parts stay by default (the residents' class).
pub const OTHERS_DAYS: u32 = 14;

/// How long personal parts stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Parts of the audiences this Central reads (its own staff's visits).
    pub own: SignedDuration,
    /// Parts of every other audience (kept sealed).
    pub others: SignedDuration,
}

impl Default for Retention {
    /// 5 years for its own, 14 days for others'.
    fn default() -> Self {
        let days = |n: u32| SignedDuration::from_hours(i64::from(n) * 24);
        Self { own: days(OWN_DAYS), others: days(OTHERS_DAYS) }
    }
}

/// Erases the parts this Central opened (its own audiences') recorded before `$1` (ms).
const ERASE_OPENED: &str =
    "UPDATE records SET holder = NULL, credential = NULL, salt = NULL, sealed = NULL, erased_at = now()
     WHERE format = 2 AND erased_at IS NULL AND salt IS NOT NULL
       AND at < TIMESTAMPTZ 'epoch' + $1::bigint * INTERVAL '1 millisecond'";
/// Erases the parts it keeps sealed (other audiences') recorded before `$1` (ms).
const ERASE_SEALED: &str =
    "UPDATE records SET holder = NULL, credential = NULL, salt = NULL, sealed = NULL, erased_at = now()
     WHERE format = 2 AND erased_at IS NULL AND sealed IS NOT NULL
       AND at < TIMESTAMPTZ 'epoch' + $1::bigint * INTERVAL '1 millisecond'";

/// How often collectors apply retention (erasure runs on a day's scale: once an hour is
/// plenty, and keeps it off the 30 s alarm sweep).
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Erases the personal parts past their period at `now`; returns how many. Which class a
/// part is in is read from what is stored, not from this process's keys: a part this
/// Central opened (it keeps its salt) is its own; one it keeps sealed is another's. A
/// collector started without its reading keys erases nothing of its own early.
pub async fn erase(db: &Client, r: &Retention, now: Timestamp) -> Result<u64, DbError> {
    let before = |d: SignedDuration| now.saturating_sub(d).unwrap_or(now).as_millisecond();
    let own = db.execute(ERASE_OPENED, &[&before(r.own)]).await?;
    let n = own + db.execute(ERASE_SEALED, &[&before(r.others)]).await?;
    if n > 0 {
        log::info!("retention: {n} record(s)' personal parts erased (headers and commitments kept)");
    }
    // Quarantined messages may hold personal data too (a record from before audiences,
    // a sealed part): their bytes go with the shortest class; why and how long they were
    // stays for the operator.
    db.execute(
        "UPDATE refused SET payload = ''::bytea
         WHERE length(payload) > 0 AND received_at < TIMESTAMPTZ 'epoch' + $1::bigint * INTERVAL '1 millisecond'",
        &[&before(r.others)],
    )
    .await?;
    Ok(n)
}

/// Erases `holder`'s personal parts of `audience`'s records (a person's right to erasure;
/// only parts this Central opened name a holder); recorded in the console's log as
/// `who`'s, without the holder's name. Returns how many.
pub async fn erase_holder(db: &mut Client, audience: &str, holder: &str, who: &str) -> Result<u64, DbError> {
    let tx = db.transaction().await?;
    let n = tx
        .execute(
            "UPDATE records SET holder = NULL, credential = NULL, salt = NULL, sealed = NULL, erased_at = now()
             WHERE format = 2 AND erased_at IS NULL AND audience = $1 AND holder = $2",
            &[&audience, &holder],
        )
        .await?;
    let detail = format!("{n} personal part(s) of {audience}'s records erased on request");
    tx.execute(
        "INSERT INTO console_log (account, action, detail) VALUES ($1, $3, $2)",
        &[&who, &detail, &crate::console::actions::LogAction::ErasePersonal.code()],
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every number stated as "`name` = N" in `docs/privacy.md`.
    fn stated(name: &str) -> Vec<i64> {
        let doc = include_str!("../../docs/privacy.md");
        let pattern = format!("`{name}` = ");
        doc.match_indices(&pattern)
            .map(|(at, _)| {
                let rest = &doc[at + pattern.len()..];
                rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(-1)
            })
            .collect()
    }

    #[test]
    fn the_privacy_registers_figures_for_central_are_its_defaults() {
        let r = Retention::default();
        for (name, default) in [("--keep-own-days", r.own), ("--keep-others-days", r.others)] {
            let said = stated(name);
            let days = default.as_hours() / 24;
            assert!(said.len() >= 2, "{name} is stated in Swedish and English: {said:?}");
            assert!(said.iter().all(|n| *n == days), "{name}: the register says {said:?}, the code {days}");
        }
    }
}
