//! A bundle near its end is told about before anyone is refused: `status`, the retained
//! `state` (through the status report) and the audit log (`credentials.expiring`, once per
//! version) say so when it ends within `expiry_warning_days` (7 by default).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

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
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let warned = d.audit_kinds().iter().filter(|k| *k == "credentials.expiring").count();
        assert_eq!(warned, 1);
        d.stop().await.unwrap();
    });
}
