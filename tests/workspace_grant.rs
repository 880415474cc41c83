//! A workspace knows what the owner granted its authority at each site (taken from the
//! site's config by `site add --config`) and signs nothing outside it: a municipality's
//! workspace made from the example site cannot give the laundry door or the
//! `property_staff` role, nor a certificate of ten years; a hand-edited file that does is
//! refused at `publish` with its file and line, and nothing reaches the gateway's inbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

const ADMIN: &str = env!("CARGO_BIN_EXE_portvakt-admin");

use common::workspace::Authority;

#[test]
fn a_municipality_workspace_made_from_the_example_site_cannot_give_the_laundry_door_or_property_staff() {
    let m = Authority::municipality();
    m.refused(
        &["group", "add", "team-soder", "--doors", "entrance,laundry"],
        &["door \"laundry\"", "not granted it to hemtjansten", "entrance, rubbish"],
    );
    m.refused(
        &["holder", "add", "vaktmastare", "--role", "property_staff", "--doors", "entrance"],
        &["--role property_staff", "not granted it to hemtjansten", "home_care"],
    );
    m.refused(
        &["holder", "add", "kalle", "--role", "hemtjanst", "--doors", "entrance"],
        &["no such role", "home_care"],
    );
    // What the grant allows is taken, published and delivered.
    m.ok(&["group", "add", "team-soder", "--doors", "entrance,rubbish"]);
    m.ok(&["holder", "add", "kalle", "--role", "home_care", "--group", "team-soder"]);
    m.ok(&["credential", "add", "--holder", "kalle", "--id", "kalle-tag", "--tag", "04:11:22:33"]);
    m.ok(&["publish"]);
    assert_eq!(m.inbox_files(), 1);
}

#[test]
fn a_hand_edited_file_outside_the_grant_is_refused_at_publish_with_its_line_and_nothing_is_signed() {
    let m = Authority::municipality();
    m.ok(&["group", "add", "team-soder", "--doors", "entrance,rubbish"]);
    m.ok(&["holder", "add", "kalle", "--role", "home_care", "--group", "team-soder"]);
    m.ok(&["credential", "add", "--holder", "kalle", "--id", "kalle-tag", "--tag", "04:11:22:33"]);
    m.edit("groups.toml", "\"rubbish\"", "\"laundry\"");
    m.edit("holders.toml", "role = \"home_care\"", "role = \"property_staff\"");
    m.edit("workspace.toml", "valid_days = 30", "valid_days = 400");
    let (door, role, days) = (
        m.line_of("groups.toml", "\"laundry\""),
        m.line_of("holders.toml", "property_staff"),
        m.line_of("workspace.toml", "valid_days"),
    );
    m.refused(
        &["publish"],
        &[
            &format!("groups.toml, line {door}: group team-soder: door \"laundry\" at storgatan-12 is not granted"),
            &format!("holders.toml, line {role}: holder kalle: role property_staff is not granted"),
            &format!("workspace.toml, line {days}: valid_days = 400"),
            "at most 90 days",
            "nothing was signed",
        ],
    );
    assert_eq!(m.inbox_files(), 0, "nothing signed, nothing delivered");
}

#[test]
fn a_role_misspelt_in_the_owners_holders_file_is_refused_with_its_line() {
    let o = Authority::new("owner", "owner", "secrets/authorities/owner.key");
    o.ok(&["import", "--csv", "example-residents.csv"]);
    o.edit("holders.toml", "role = \"resident\"", "role = \"residnet\"");
    let line = o.line_of("holders.toml", "residnet");
    o.refused(
        &["publish"],
        &[&format!("holders.toml, line {line}"), "no role \"residnet\" at storgatan-12", "resident, home_care"],
    );
    assert_eq!(o.inbox_files(), 0);
}

#[test]
fn certify_refuses_a_ten_year_certificate_and_a_door_or_role_outside_the_grant() {
    let m = Authority::municipality();
    let phone = "01".repeat(32);
    let key = "secrets/authorities/municipality.key";
    let out = m.path("cert.pvkt");
    let certify = |extra: &[&str]| -> Vec<String> {
        let base = [
            "certify",
            "--authority",
            "hemtjansten",
            "--site",
            "storgatan-12",
            "--id",
            "c-1",
            "--holder",
            "kalle",
            "--key",
            key,
            "--out",
            &out,
            "--phone-key",
            &phone,
        ];
        base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
    };
    // From the workspace's grant.
    let refused = |extra: &[&str], words: &[&str]| {
        let args = certify(extra);
        m.refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), words);
    };
    refused(&["--role", "home_care", "--hours", "87600"], &["at most 168 h", "nothing was signed"]);
    refused(&["--role", "home_care", "--doors", "laundry"], &["door \"laundry\" is not granted"]);
    refused(&["--role", "property_staff"], &["not granted it to hemtjansten"]);
    // From the site's config, outside any workspace.
    let bare = tempfile::tempdir().unwrap();
    let config = m.dir.path().join("etc/portvakt.toml");
    let run = |extra: &[&str]| {
        Command::new(ADMIN)
            .args(certify(extra))
            .arg("--config")
            .arg(&config)
            .current_dir(m.dir.path().join("etc"))
            .env("PORTVAKT_WORKSPACE", bare.path())
            .output()
            .unwrap()
    };
    let long = run(&["--role", "home_care", "--hours", "87600"]);
    assert!(!long.status.success() && String::from_utf8_lossy(&long.stderr).contains("at most 168 h"));
    assert!(!Path::new(&out).exists(), "nothing signed");
    let fine = run(&["--role", "home_care", "--hours", "12", "--doors", "entrance"]);
    assert!(fine.status.success(), "{}", String::from_utf8_lossy(&fine.stderr));
    assert!(Path::new(&out).exists());
}

#[test]
fn without_a_known_grant_no_certificate_longer_than_a_week_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let key = Command::new(ADMIN).args(["keygen", "--out", &p("k.key")]).output().unwrap();
    assert!(key.status.success());
    let phone = "01".repeat(32);
    let out = Command::new(ADMIN)
        .args(["certify", "--authority", "kommunen", "--id", "c", "--holder", "h", "--role", "home_care"])
        .args(["--phone-key", &phone, "--hours", "200", "--key", &p("k.key"), "--out", &p("c.pvkt")])
        .env("PORTVAKT_WORKSPACE", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("longer than 168 h"), "{err}");
    assert!(!dir.path().join("c.pvkt").exists());
}

#[test]
fn bundle_build_with_the_sites_config_refuses_what_the_gateway_would_refuse_and_writes_nothing() {
    let m = Authority::municipality();
    let etc = m.dir.path().join("etc");
    let build = |csv: &str, extra: &[&str]| {
        std::fs::write(etc.join("staff.csv"), csv).unwrap();
        Command::new(ADMIN)
            .args(["bundle", "build", "--authority", "hemtjansten", "--site", "storgatan-12"])
            .args(["--site-key", "secrets/credential-hash.key", "--csv", "staff.csv", "--config", "portvakt.toml"])
            .args(["--out", "staff.body"])
            .args(extra)
            .current_dir(&etc)
            .output()
            .unwrap()
    };
    let header = "id,holder,role,kind,secret,doors\n";
    let bad = format!(
        "{header}c1,kalle,home_care,tag,04:11:22:33,entrance;laundry\nc2,vakt,property_staff,pin,4711,entrance\n"
    );
    let out = build(&bad, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("c1: door laundry is not granted") && err.contains("c2: role property_staff is not granted"),
        "{err}"
    );
    assert!(!etc.join("staff.body").exists(), "nothing written");
    let long = build(&format!("{header}c1,kalle,home_care,tag,04:11:22:33,entrance\n"), &["--valid-days", "400"]);
    assert!(String::from_utf8_lossy(&long.stderr).contains("at most 90 days"));
    let fine = build(&format!("{header}c1,kalle,home_care,tag,04:11:22:33,entrance\n"), &[]);
    assert!(fine.status.success(), "{}", String::from_utf8_lossy(&fine.stderr));
    assert!(etc.join("staff.body").exists());
}
