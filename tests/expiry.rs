//! A bundle near its end is told about before anyone is refused: `status`, the retained
//! `state` (through the status report) and the audit log (`credentials.expiring`, once per
//! version) say so when it ends within `expiry_warning_days` (7 by default).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::TestDaemon;
use common::signed::{KOMMUNEN, bundle, signed, staff_csv};
use jiff::{SignedDuration, Timestamp};
use portvakt::daemon::control::Request;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn a_bundle_ending_within_a_week_is_warned_about_in_status_and_audited_once() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let cfg = common::site();
        let mut b = bundle(&cfg, "kommunen", 1, staff_csv());
        b.issued_at = Timestamp::now() - SignedDuration::from_hours(1);
        b.not_after = Timestamp::now() + SignedDuration::from_hours(24 * 3);
        std::fs::write(d.inbox().join("care.pvkt"), signed(&b, KOMMUNEN)).unwrap();
        d.ask(&Request::Intake).await.unwrap();
        d.audited("credentials.expiring").await;
        let status = d.ask(&Request::Status).await.unwrap();
        let listed = &status["status"]["bundles"][0];
        assert_eq!(listed["expiring"], true, "{status}");
        assert!(listed["expires_in_hours"].as_i64().unwrap() <= 72);
        assert!(status["text"].as_str().unwrap().contains("EXPIRES in 2 d"), "{}", status["text"]);
        // Later rounds do not repeat the warning for the same version.
        for _ in 0..2 {
            d.ask(&Request::Intake).await.unwrap();
        }
        let warned = d.audit_kinds().iter().filter(|k| *k == "credentials.expiring").count();
        assert_eq!(warned, 1);
        d.stop().await.unwrap();
    });
}

#[test]
fn past_its_end_an_owners_bundle_keeps_residents_in_for_its_grace_while_the_municipalitys_is_refused_at_once() {
    use common::signed::OWNER;
    use portvakt::daemon::control::SimAct;
    rt().block_on(async {
        // The daemon on a manual clock: the bundles' end comes when the test moves it.
        let clock = portvakt::gateway::clock::ManualClock::new(Timestamp::now());
        let d = TestDaemon::start_on_clock(Vec::new(), std::sync::Arc::new(clock.clone()));
        d.notified("READY=1", 10).await;
        let cfg = common::site();
        let ends = Timestamp::now() + SignedDuration::from_secs(3);
        let residents = "id,holder,role,kind,secret,doors\nres-1,lgh-1101,resident,tag,04:C1:7A:22:01,entrance\n";
        let mut owner = bundle(&cfg, "owner", 1, residents);
        owner.not_after = ends;
        let mut care = bundle(&cfg, "kommunen", 1, staff_csv());
        care.not_after = ends;
        std::fs::write(d.inbox().join("owner.pvkt"), signed(&owner, OWNER)).unwrap();
        std::fs::write(d.inbox().join("care.pvkt"), signed(&care, KOMMUNEN)).unwrap();
        d.ask(&Request::Intake).await.unwrap();
        clock.advance(SignedDuration::from_secs(4));

        // Both bundles are over. The owner's default grace (7 days) keeps the resident in;
        // the municipality's (none) refuses its staff tag.
        let tag = |uid: &str| Request::Sim { door: "entrance".into(), act: SimAct::Tag(uid.into()) };
        d.ask(&tag("04:C1:7A:22:01")).await.unwrap();
        let granted = d.audited_after("access.granted", 0).await;
        assert_eq!(granted["detail"]["kind"], "tag", "{granted}");
        d.ask(&tag("04:C1:7A:22:9B")).await.unwrap();
        let denied = d.audited_after("access.denied", 0).await;
        assert_eq!(denied["detail"]["reason"], "expired", "{denied}");

        // Said at the next round, and in status.
        d.ask(&Request::Intake).await.unwrap();
        let over: Vec<_> =
            d.audit_of("credentials.expiring").into_iter().filter(|r| r["detail"]["expired"] == true).collect();
        let owner_over = over.iter().find(|r| r["detail"]["authority"] == "owner").expect("the owner's end audited");
        assert!(owner_over["detail"]["grace_until"].is_string(), "{owner_over}");
        let text = d.ask(&Request::Status).await.unwrap()["text"].as_str().unwrap().to_owned();
        assert!(text.contains("stay in use until"), "{text}");
        d.stop().await.unwrap();
    });
}
