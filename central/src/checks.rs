//! The auditor's monthly sample check of reads of personal data (HSLF-FS 2016:40 4 kap.
//! 9 §; `docs/privacy.md`): which of a month's reads are checked — every read of one named
//! person's records, and of the rest a fixed tenth (at least five), chosen by a hash of
//! the month and the read so the sample is the same each time it is looked at and nobody
//! can steer it — and recording a check. Choosing is pure; reading and writing are here.

use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;

use crate::db::DbError;

/// One read of personal data, as the check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Its id in `reads`.
    pub id: i64,
    /// When.
    pub at: jiff::Timestamp,
    /// Who read.
    pub who: String,
    /// Why (`visits::Purpose` word, or `handover`, `unstated`).
    pub purpose: String,
    /// The reason in words, for `other`.
    pub note: Option<String>,
    /// Whose records, when one person's were asked for.
    pub holder: Option<String>,
    /// What was asked.
    pub query: String,
    /// How many records it returned.
    pub records: i64,
    /// Its check, if done: who, when, outcome.
    pub checked: Option<(String, jiff::Timestamp, String)>,
}

/// The outcomes a check may have.
pub const OUTCOMES: [&str; 2] = ["justified", "questioned"];

/// The ids of `reads` (one month's, `month` as `YYYY-MM`) in the sample.
pub fn sample(reads: &[Read], month: &str) -> Vec<i64> {
    let rank =
        |id: i64| -> [u8; 32] { Sha256::new().chain_update(month).chain_update(id.to_be_bytes()).finalize().into() };
    let (named, mut rest): (Vec<&Read>, Vec<&Read>) = reads.iter().partition(|r| r.holder.is_some());
    rest.sort_by_key(|r| rank(r.id));
    let tenth = rest.len().div_ceil(10).max(5).min(rest.len());
    let mut ids: Vec<i64> = named.iter().map(|r| r.id).chain(rest[..tenth].iter().map(|r| r.id)).collect();
    ids.sort_unstable();
    ids
}

/// The month `YYYY-MM` (Stockholm) as its first and next month's first instant.
pub fn month_bounds(month: &str) -> Result<(jiff::Timestamp, jiff::Timestamp), String> {
    let first: jiff::civil::Date = format!("{month}-01").parse().map_err(|_| format!("{month}: a month is YYYY-MM"))?;
    let next = first.checked_add(jiff::Span::new().months(1)).map_err(|e| e.to_string())?;
    let tz = crate::console::i18n::stockholm();
    let at = |d: jiff::civil::Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| e.to_string());
    Ok((at(first)?, at(next)?))
}

/// The month's reads with their checks, oldest first.
pub async fn month(db: &Client, month: &str) -> Result<Vec<Read>, DbError> {
    let (from, until) = month_bounds(month).map_err(DbError::Damaged)?;
    let rows = db
        .query(
            "SELECT r.id, (extract(epoch FROM r.at) * 1000)::bigint AS at, r.who, r.purpose, r.note, r.holder, r.query,
                    r.records, c.checked_by, (extract(epoch FROM c.checked_at) * 1000)::bigint AS checked_at, c.outcome
             FROM reads r LEFT JOIN read_checks c ON c.read_id = r.id
             WHERE r.at >= TIMESTAMPTZ 'epoch' + $1::bigint * INTERVAL '1 millisecond'
               AND r.at < TIMESTAMPTZ 'epoch' + $2::bigint * INTERVAL '1 millisecond'
             ORDER BY r.at, r.id",
            &[&from.as_millisecond(), &until.as_millisecond()],
        )
        .await?;
    let time = |ms: Option<i64>| ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok());
    Ok(rows
        .iter()
        .map(|r| Read {
            id: r.get("id"),
            at: time(r.get("at")).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            who: r.get("who"),
            purpose: r.get("purpose"),
            note: r.get("note"),
            holder: r.get("holder"),
            query: r.get("query"),
            records: r.get("records"),
            checked: match (r.get::<_, Option<String>>("checked_by"), time(r.get("checked_at"))) {
                (Some(by), Some(at)) => Some((by, at, r.get("outcome"))),
                _ => None,
            },
        })
        .collect())
}

/// Records `by`'s check of read `id` (once); whether it was recorded now.
pub async fn check(db: &Client, id: i64, by: &str, outcome: &str, note: Option<&str>) -> Result<bool, DbError> {
    let n = db
        .execute(
            "INSERT INTO read_checks (read_id, checked_by, outcome, note)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM reads WHERE id = $1) ON CONFLICT DO NOTHING",
            &[&id, &by, &outcome, &note],
        )
        .await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(id: i64, holder: Option<&str>) -> Read {
        Read {
            id,
            at: jiff::Timestamp::UNIX_EPOCH,
            who: "lena".into(),
            purpose: "invoicing".into(),
            note: None,
            holder: holder.map(str::to_owned),
            query: String::new(),
            records: 1,
            checked: None,
        }
    }

    #[test]
    fn every_read_of_one_persons_records_is_in_the_sample_and_a_tenth_of_the_rest_at_least_five() {
        let mut reads: Vec<Read> = (1..=100).map(|i| read(i, None)).collect();
        reads.push(read(500, Some("hemtjanst-natt-5")));
        let s = sample(&reads, "2026-12");
        assert!(s.contains(&500));
        assert_eq!(s.len(), 1 + 10);
        assert_eq!(sample(&reads, "2026-12"), s, "the same sample each time");
        assert_ne!(sample(&reads, "2027-01"), s, "another month, another sample");
        let few: Vec<Read> = (1..=3).map(|i| read(i, None)).collect();
        assert_eq!(sample(&few, "2026-12"), [1, 2, 3], "fewer than five: all of them");
    }

    #[test]
    fn a_month_is_stockholms_and_a_bad_one_is_said_so() {
        let (from, until) = month_bounds("2026-12").unwrap();
        assert_eq!(from.to_string(), "2026-11-30T23:00:00Z");
        assert_eq!(until.to_string(), "2026-12-31T23:00:00Z");
        assert!(month_bounds("december").is_err());
    }
}
