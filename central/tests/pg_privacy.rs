//! Whose data Central holds, read straight from PostgreSQL (run by `scripts/interop.sh`):
//! a day at the example building — residents (the owner's), home care (the
//! municipality's), a contractor — taken in by the municipality's Central, which holds
//! the municipality's reading key only. No resident's holder or credential is in clear in
//! any column of any table; the municipality's key opens none of their parts, the owner's
//! does; home care's visits are readable, checked against their commitments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{NOW_MS, entry_v2, key, pg};
use portvakt_central::collector::take_records;
use portvakt_central::db;
use portvakt_central::keys::{Keys, ReadingKeys};
use portvakt_central::retention::{Retention, erase};
use portvakt_central::verify;
use portvakt_central::visits::{Filter, Purpose, read};
use portvakt_wire::chain::GENESIS;

const RESIDENTS: [(&str, &str); 3] =
    [("anna-lgh-1101", "tag-1101-a"), ("bertil-lgh-1102", "pin-1102"), ("cecilia-lgh-1201", "phone-1201")];
const CARE: [(&str, &str); 2] = [("hemtjanst-natt-5", "care-5"), ("hemtjanst-dag-2", "care-2")];

/// Every place a text could hide in the database: (table, column, is bytea).
async fn columns(c: &tokio_postgres::Client) -> Vec<(String, String, bool)> {
    c.query(
        "SELECT table_name::text, column_name::text, data_type = 'bytea'
         FROM information_schema.columns WHERE table_schema = 'public'
           AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb')",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// How many rows of any table hold `needle` in clear (as text, or as its bytes in a bytea).
async fn found_anywhere(c: &tokio_postgres::Client, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for (table, column, bytea) in columns(c).await {
        let sql = if bytea {
            format!("SELECT count(*) FROM \"{table}\" WHERE position(convert_to($1, 'UTF8') IN \"{column}\") > 0")
        } else {
            format!("SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text LIKE '%' || $1 || '%'")
        };
        let n: i64 = c.query_one(&sql, &[&needle]).await.unwrap().get(0);
        if n > 0 {
            hits.push(format!("{table}.{column} ({n})"));
        }
    }
    hits
}

#[allow(clippy::too_many_lines, reason = "a day at the building, step by step, in one test")]
#[tokio::test(flavor = "current_thread")]
async fn after_a_day_at_the_building_no_residents_name_is_in_clear_and_only_home_cares_parts_open() {
    let (_pg, mut c) = pg().await;
    let (owner_private, owner_public) = portvakt_wire::personal::reading_pair(&[1; 32]);
    let (kommun_private, kommun_public) = portvakt_wire::personal::reading_pair(&[2; 32]);
    let keys = Keys { signing: key(), reading: ReadingKeys::of("kommunen", kommun_private) };

    let mut prev = GENESIS;
    let mut day = Vec::new();
    let mut seq = 0;
    for hour in 0..24_i64 {
        let at = NOW_MS + hour * 3_600_000;
        for (holder, credential) in RESIDENTS {
            seq += 1;
            day.push(entry_v2("ekvagen-3", seq, &mut prev, "owner", holder, credential, Some(&owner_public), at));
        }
        if hour % 6 == 0 {
            for (holder, credential) in CARE {
                seq += 1;
                day.push(entry_v2(
                    "ekvagen-3",
                    seq,
                    &mut prev,
                    "kommunen",
                    holder,
                    credential,
                    Some(&kommun_public),
                    at,
                ));
            }
        }
        if hour == 10 {
            seq += 1;
            day.push(entry_v2("ekvagen-3", seq, &mut prev, "hissfirman", "hiss-tekniker-1", "hiss-1", None, at));
        }
    }
    let batch: Vec<(&str, &[u8])> = day.iter().map(|m| ("ekvagen-3", &m[..])).collect();
    let prepared = db::Prepared::on(&c).await.unwrap();
    for chunk in batch.chunks(40) {
        take_records(&mut c, &prepared, &keys, chunk, jiff::Timestamp::now()).await.unwrap();
    }
    let stored: i64 = c.query_one("SELECT count(*) FROM records", &[]).await.unwrap().get(0);
    assert_eq!(stored, i64::try_from(seq).unwrap());

    // The search finds what is there (home care's names, opened by this Central).
    assert!(found_anywhere(&c, "hemtjanst-natt-5").await.contains(&"records.holder (4)".to_owned()));
    for (holder, credential) in RESIDENTS.iter().chain(&[("hiss-tekniker-1", "hiss-1")]) {
        for needle in [holder, credential] {
            let hits = found_anywhere(&c, needle).await;
            assert!(hits.is_empty(), "{needle} in clear in PostgreSQL: {hits:?}");
        }
    }

    // The residents' parts are here, sealed: the owner's key opens them, the municipality's none.
    let sealed = c
        .query("SELECT seq, commitment, sealed FROM records WHERE audience = 'owner' ORDER BY seq", &[])
        .await
        .unwrap();
    assert_eq!(sealed.len(), 72);
    for row in &sealed {
        let seq = u64::try_from(row.get::<_, i64>(0)).unwrap();
        let commitment: [u8; 32] = row.get::<_, Vec<u8>>(1).try_into().unwrap();
        let part: Vec<u8> = row.get::<_, Option<Vec<u8>>>(2).expect("kept sealed");
        let open = |k| portvakt_wire::personal::open(k, "ekvagen-3", seq, &commitment, &part);
        assert!(open(&kommun_private).is_err(), "the municipality's key opened a resident's part (record {seq})");
        assert!(RESIDENTS.iter().any(|(h, _)| open(&owner_private).unwrap().holder.as_deref() == Some(*h)));
    }

    // Home care's visits, opened with the municipality's key, are the municipality's to read.
    let visits: Vec<(String, String)> = c
        .query("SELECT holder, credential FROM records WHERE audience = 'kommunen' ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(visits.len(), 8);
    assert!(visits.iter().all(|(h, _)| CARE.iter().any(|(c, _)| c == h)), "{visits:?}");
    let report = verify::site(&c, "ekvagen-3").await.unwrap();
    assert!(report.intact(), "{}", report.render("ekvagen-3"));

    // Fifteen days on (virtual time: `now` passed in): the residents' and the contractor's
    // parts are gone, home care's visits of the same day are still there, and the chain is
    // intact with the erased parts counted.
    let day = jiff::SignedDuration::from_hours(24);
    let then = |days: i64| jiff::Timestamp::from_millisecond(NOW_MS).unwrap() + day * i32::try_from(days).unwrap();
    assert_eq!(erase(&c, &Retention::default(), then(13)).await.unwrap(), 0, "kept 14 days");
    assert_eq!(
        erase(&c, &Retention::default(), then(16)).await.unwrap(),
        72,
        "the residents' (the contractor's part never left its gateway)"
    );
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM records WHERE sealed IS NOT NULL OR (holder IS NOT NULL AND audience <> 'kommunen')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "nothing personal of the residents' or the contractor's entries remains");
    let visits: i64 =
        c.query_one("SELECT count(*) FROM records WHERE holder LIKE 'hemtjanst-%'", &[]).await.unwrap().get(0);
    assert_eq!(visits, 8, "home care's visits of the same day are still there");
    let report = verify::site(&c, "ekvagen-3").await.unwrap();
    let text = report.render("ekvagen-3");
    assert!(report.intact() && text.contains("72 personal part(s) erased"), "{text}");

    // The console's search by part of an id: "natt" finds the night nurse's visits only,
    // "hemtjanst" both nurses', and the read says whose it found.
    let part = |p: &str| Filter { holder_part: Some(p.into()), ..Filter::default() };
    let natt = read(&mut c, &part("natt"), "lena", &Purpose::Invoicing).await.unwrap();
    assert!(natt.len() == 4 && natt.iter().all(|v| v.holder.as_deref() == Some("hemtjanst-natt-5")));
    assert_eq!(read(&mut c, &part("hemtjanst"), "lena", &Purpose::Invoicing).await.unwrap().len(), 8);
    assert!(read(&mut c, &part("%"), "lena", &Purpose::Invoicing).await.unwrap().is_empty(), "% is itself");
    let whose: Vec<Option<String>> = c
        .query("SELECT holder FROM reads WHERE who = 'lena' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(whose, [Some("hemtjanst-natt-5".into()), Some("hemtjanst-dag-2, hemtjanst-natt-5".into()), None]);

    // A person's right to erasure: one nurse's visits go on request, the other's stay.
    let n = portvakt_central::retention::erase_holder(&mut c, "kommunen", "hemtjanst-natt-5", "dpo").await.unwrap();
    assert_eq!(n, 4);
    let left: i64 = c.query_one("SELECT count(*) FROM records WHERE holder IS NOT NULL", &[]).await.unwrap().get(0);
    assert_eq!(left, 4, "hemtjanst-dag-2's visits stay");
    let logged: String =
        c.query_one("SELECT detail FROM console_log WHERE action = 'erase_personal'", &[]).await.unwrap().get(0);
    assert!(!logged.contains("hemtjanst-natt-5"), "the erasure's record names no one: {logged}");
    let report = verify::site(&c, "ekvagen-3").await.unwrap();
    assert!(report.intact() && report.render("ekvagen-3").contains("76 personal part(s) erased"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_sent_again_with_the_personal_part_its_first_copy_lacked_gets_it_and_retention_follows_what_is_stored()
{
    let (_pg, mut c) = pg().await;
    let (kommun_private, kommun_public) = portvakt_wire::personal::reading_pair(&[2; 32]);
    let keys = Keys { signing: key(), reading: ReadingKeys::of("kommunen", kommun_private) };
    let (mut bare_prev, mut full_prev) = (GENESIS, GENESIS);
    let bare = entry_v2("ekvagen-3", 1, &mut bare_prev, "kommunen", "hemtjanst-natt-5", "care-5", None, NOW_MS);
    let full = entry_v2(
        "ekvagen-3",
        1,
        &mut full_prev,
        "kommunen",
        "hemtjanst-natt-5",
        "care-5",
        Some(&kommun_public),
        NOW_MS,
    );
    let prepared = db::Prepared::on(&c).await.unwrap();
    take_records(&mut c, &prepared, &keys, &[("ekvagen-3", &bare[..])], jiff::Timestamp::now()).await.unwrap();
    let holder = "SELECT holder FROM records WHERE seq = 1";
    assert_eq!(c.query_one(holder, &[]).await.unwrap().get::<_, Option<String>>(0), None);
    take_records(&mut c, &prepared, &keys, &[("ekvagen-3", &full[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(
        c.query_one(holder, &[]).await.unwrap().get::<_, Option<String>>(0).as_deref(),
        Some("hemtjanst-natt-5")
    );
    assert_eq!(c.query_one("SELECT count(*) FROM equivocations", &[]).await.unwrap().get::<_, i64>(0), 0);
    // A collector without its reading keys erases nothing of its own early: the class is
    // what is stored (opened here: kept five years), not which keys the process holds.
    let later = jiff::Timestamp::from_millisecond(NOW_MS).unwrap() + jiff::SignedDuration::from_hours(24 * 30);
    assert_eq!(erase(&c, &Retention::default(), later).await.unwrap(), 0);
    assert!(verify::site(&c, "ekvagen-3").await.unwrap().intact());
}
