//! Set-based ingest against a real PostgreSQL (run by `scripts/interop.sh`): a batch costs
//! six round trips whatever its size, and two collectors taking 10 000 sites' records in
//! overlapping batches, in opposite orders, leave every site's chain whole to its last
//! record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Chain, NOW_MS, count, pg};
use portvakt_central::db::{self, Incoming};
use portvakt_central::ingest::Arrival;
use portvakt_wire::event::ReceivedEvent;

/// `records` records for each of `sites` sites, in site order.
fn fleet(sites: usize, records: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(sites * records);
    for s in 0..sites {
        let site = format!("site-{s:05}");
        let mut chain = Chain::new();
        for _ in 0..records {
            out.push((site.clone(), chain.next("door.granted", Some("entrance"), "{}", NOW_MS)));
        }
    }
    out
}

fn parsed(msgs: &[(String, Vec<u8>)]) -> Vec<(String, ReceivedEvent, Vec<u8>)> {
    msgs.iter().map(|(s, m)| (s.clone(), ReceivedEvent::parse(m).unwrap(), m.clone())).collect()
}

fn incoming(parsed: &[(String, ReceivedEvent, Vec<u8>)]) -> Vec<Incoming<'_>> {
    parsed.iter().map(|(site, event, payload)| Incoming { site, event, payload, salt: None }).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_of_a_thousand_records_over_a_hundred_sites_takes_six_round_trips() {
    let (_pg, mut c) = pg().await;
    let records = parsed(&fleet(100, 10));
    let prepared = db::Prepared::on(&c).await.unwrap();
    let (taken, trips) = db::take_many_counted(&mut c, &prepared, &incoming(&records)).await.unwrap();
    assert_eq!(taken.len(), 1000);
    assert!(taken.iter().all(|t| t.whole.through == 10), "every run whole through its tenth record");
    assert!(trips <= 6, "{trips} round trips for one batch");
    // The same batch again: all duplicates, still six.
    let (again, trips) = db::take_many_counted(&mut c, &prepared, &incoming(&records)).await.unwrap();
    assert!(again.iter().all(|t| t.arrival == Arrival::Duplicate));
    assert!(trips <= 6, "{trips} round trips for a batch of duplicates");
    assert_eq!(count(&c, "SELECT count(*) FROM records").await, 1000);
    assert_eq!(count(&c, "SELECT count(*) FROM chains WHERE through = 10").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_taking_ten_thousand_sites_in_overlapping_batches_leave_every_chain_whole() {
    let (pg, mut first) = pg().await;
    let mut second = db::connect(&pg.url).await.unwrap();
    let records = parsed(&fleet(10_000, 20));
    // Batches of 1 000 taken by one collector in order and by the other from the end,
    // half a batch out of step: every record is offered twice, and every batch of one
    // shares sites with two of the other's, so their locks cross.
    let forward: Vec<&[(String, ReceivedEvent, Vec<u8>)]> = records.chunks(1000).collect();
    let (head, tail) = records.split_at(500);
    let mut backward: Vec<&[(String, ReceivedEvent, Vec<u8>)]> = tail.rchunks(1000).collect();
    backward.push(head);
    let one = async {
        let prepared = db::Prepared::on(&first).await.unwrap();
        for b in &forward {
            db::take_many(&mut first, &prepared, &incoming(b)).await.unwrap();
        }
    };
    let two = async {
        let prepared = db::Prepared::on(&second).await.unwrap();
        for b in &backward {
            db::take_many(&mut second, &prepared, &incoming(b)).await.unwrap();
        }
    };
    tokio::join!(one, two);
    assert_eq!(count(&second, "SELECT count(*) FROM records").await, 200_000);
    assert_eq!(count(&second, "SELECT count(*) FROM chains WHERE through = 20").await, 10_000);
    assert_eq!(count(&second, "SELECT count(*) FROM chains WHERE broken_at IS NOT NULL").await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn of_two_copies_of_one_record_in_a_batch_the_first_to_arrive_is_kept_and_the_other_is_an_equivocation() {
    let (_pg, mut c) = pg().await;
    let mut chain = Chain::new();
    let genuine = chain.next("door.granted", Some("entrance"), "{}", NOW_MS);
    let mut forged_chain = Chain::new();
    let forged = forged_chain.next("door.granted", Some("laundry"), "{}", NOW_MS);
    let second = chain.next("door.granted", Some("entrance"), "{}", NOW_MS);
    let msgs =
        parsed(&[("site-a".to_owned(), genuine.clone()), ("site-a".to_owned(), forged), ("site-a".to_owned(), second)]);
    let prepared = db::Prepared::on(&c).await.unwrap();
    let taken = db::take_many(&mut c, &prepared, &incoming(&msgs)).await.unwrap();
    assert_eq!(
        taken.iter().map(|t| t.arrival).collect::<Vec<_>>(),
        [Arrival::New, Arrival::Equivocation, Arrival::New]
    );
    assert_eq!(taken[2].whole.through, 2, "the genuine first record kept: the chain links through the second");
    let stored: Vec<u8> =
        c.query_one("SELECT hash FROM records WHERE site = 'site-a' AND seq = 1", &[]).await.unwrap().get(0);
    assert_eq!(stored, ReceivedEvent::parse(&genuine).unwrap().hash.to_vec());
    assert_eq!(count(&c, "SELECT count(*) FROM equivocations").await, 1);
}
