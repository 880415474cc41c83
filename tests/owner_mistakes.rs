//! Mistakes in a hand-edited workspace are caught before anything is signed: a misspelt
//! door (it would silently take a resident's laundry away: `door_not_in_scope` at the
//! gateway) and the same tag given twice (the gateway would refuse the whole bundle) are
//! refused at `publish`, naming the file and line; nothing reaches the inbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;

use common::workspace::Authority;

#[test]
fn a_misspelt_door_in_a_hand_edited_holders_file_is_refused_before_signing_with_its_line() {
    let o = Authority::owner_with_residents();
    o.edit("holders.toml", "\"laundry\"", "\"laundy\"");
    let line = o.line_of("holders.toml", "\"laundy\"");
    let (code, out) = o.run(&["publish"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("holders.toml, line {line}")), "{out}");
    assert!(out.contains("no door \"laundy\" at storgatan-12") && out.contains("laundry"), "{out}");
    assert_eq!(o.inbox_files(), 0, "nothing signed, nothing delivered");
}

#[test]
fn the_same_tag_given_to_two_credentials_is_refused_before_signing() {
    let o = Authority::owner_with_residents();
    let before = o.holders();
    let mut uids = before.lines().filter_map(|l| l.trim().strip_prefix("uid = ").map(str::to_owned));
    let (first, second) = (uids.next().unwrap(), uids.next().unwrap());
    o.edit("holders.toml", &format!("uid = {second}"), &format!("uid = {first}"));
    let (code, out) = o.run(&["publish"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is the same tag as credential") && out.contains("holders.toml, line"), "{out}");
    assert_eq!(o.inbox_files(), 0);
    // Put right, it is signed and delivered.
    o.edit("holders.toml", &format!("uid = {first}"), &format!("uid = {second}"));
    o.ok(&["publish"]);
    assert_eq!(o.inbox_files(), 1);
}

/// A date `days` from today in Stockholm (never Christmas Eve, when the laundry is shut).
fn day(days: i64) -> String {
    let mut d = jiff::Zoned::now().in_tz("Europe/Stockholm").unwrap().date() + jiff::Span::new().days(days);
    if (d.month(), d.day()) == (12, 24) {
        d = d.tomorrow().unwrap();
    }
    d.to_string()
}

fn book(o: &Authority, holder: &str, date: &str, from: &str, to: &str) {
    o.ok(&[
        "booking",
        "add",
        "--door",
        "laundry",
        "--holder",
        holder,
        "--start",
        &format!("{date}T{from}"),
        "--end",
        &format!("{date}T{to}"),
    ]);
}

#[test]
fn two_apartments_in_one_laundry_slot_are_a_warning_that_publish_refuses_until_accepted() {
    let o = Authority::owner_with_residents();
    let d = day(3);
    book(&o, "anna-lgh1101", &d, "10:00", "13:00");
    book(&o, "lars-lgh1203", &d, "12:00", "15:00");
    let (code, out) = o.run(&["publish"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("WARNING") && out.contains("overlap at the same door"), "{out}");
    assert!(out.contains("--accept-warnings"), "{out}");
    assert_eq!(o.inbox_files(), 0);
    o.ok(&["publish", "--accept-warnings"]);
    assert_eq!(o.inbox_files(), 1);
    // Accepted once, the overlap is not said again at the next change.
    o.ok(&["holder", "add", "--name", "Åsa Öberg", "--role", "resident", "--doors", "entrance"]);
    o.ok(&["credential", "add", "--holder", "asa-oberg", "--id", "asa-tag", "--tag", "04:30:00:01"]);
    let out = o.ok(&["publish"]);
    assert!(!out.contains("WARNING"), "{out}");
}

#[test]
fn a_booking_on_a_day_the_laundry_is_closed_is_a_warning() {
    let o = Authority::owner_with_residents();
    let d = day(4);
    o.ok(&["holiday", "add", "--date", &d, "--schedule", "laundry-hours"]);
    book(&o, "anna-lgh1101", &d, "10:00", "13:00");
    let (code, out) = o.run(&["publish"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("laundry is closed for all of it") && out.contains(&format!("closed {d}")), "{out}");
    assert_eq!(o.inbox_files(), 0);
    // A slot that the hours cut short but do not close entirely is the gateway's to judge.
    o.ok(&["holiday", "remove", "--date", &d]);
    o.ok(&["booking", "remove", "--door", "laundry", "--start", &format!("{d}T10:00")]);
    book(&o, "anna-lgh1101", &d, "21:00", "23:00");
    o.ok(&["publish"]);
}

#[test]
fn a_booking_whose_holder_lost_the_last_laundry_credential_is_a_warning() {
    let o = Authority::owner_with_residents();
    book(&o, "anna-lgh1101", &day(2), "10:00", "13:00");
    o.ok(&["credential", "remove", "anna-tag", "--revoke"]);
    let (code, out) = o.run(&["diff"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nobody it is for has a credential for laundry"), "{out}");
    let (code, out) = o.run(&["publish"]);
    assert_ne!(code, 0, "{out}");
    assert_eq!(o.inbox_files(), 0);
}

#[test]
fn a_booking_already_over_is_refused_when_it_is_added() {
    let o = Authority::owner_with_residents();
    let (code, out) = o.run(&[
        "booking",
        "add",
        "--door",
        "laundry",
        "--holder",
        "anna-lgh1101",
        "--start",
        "2025-12-10T07:00",
        "--end",
        "2025-12-10T10:00",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is over already"), "{out}");
    assert!(!std::fs::read_to_string(o.dir.path().join("ws/bookings.toml")).unwrap_or_default().contains("2025-12-10"));
}

/// A resident list as a housing system exports it: names, apartments, no ids, Windows
/// line endings.
fn apartments_csv(rows: usize) -> String {
    let first = ["Åsa", "Björn", "Çelik", "Dörte", "Eva", "Fredrik", "Göran", "Hélène", "Ida", "Jörgen"];
    let mut csv = String::from("id;name;holder;group;role;kind;secret;doors\r\n");
    for n in 0..rows {
        let apartment = 1101 + n / 2;
        let _ = write!(
            csv,
            "tag-{n};{} Öberg {n};;lgh-{apartment};resident;tag;04:10:{:02X}:{:02X};entrance,rubbish,laundry\r\n",
            first[n % first.len()],
            n / 256,
            n % 256
        );
    }
    csv
}

#[test]
fn twenty_residents_in_ten_apartments_come_in_with_their_names_and_apartments_in_one_import() {
    let o = Authority::owner_with_residents();
    std::fs::write(o.dir.path().join("etc/boende.csv"), apartments_csv(20)).unwrap();
    let said = o.ok(&["import", "--csv", "boende.csv"]);
    assert!(said.contains("20 row(s)"), "{said}");
    let groups = std::fs::read_to_string(o.dir.path().join("ws/groups.toml")).unwrap();
    assert_eq!(groups.matches("[groups.lgh-").count(), 10, "{groups}");
    let list = o.ok(&["holder", "list"]);
    assert!(list.contains("Åsa Öberg 0 asa-oberg-0 (resident, lgh-1101)"), "{list}");
    assert!(list.contains("Hélène Öberg 7 helene-oberg-7 (resident, lgh-1104)"), "{list}");
    // A booking for the whole apartment reaches both of its residents.
    let (d, from, to) = (day(3), "T10:00", "T12:00");
    let (start, end) = (format!("{d}{from}"), format!("{d}{to}"));
    o.ok(&["booking", "add", "--door", "laundry", "--group", "lgh-1101", "--start", &start, "--end", &end]);
    let out = o.ok(&["publish"]);
    assert!(out.contains("2 booking(s)"), "{out}");
}

#[test]
fn a_bad_row_in_a_windows_file_is_named_by_its_own_line_and_an_unknown_column_is_refused() {
    let o = Authority::owner_with_residents();
    let mut csv = apartments_csv(4);
    csv = csv.replacen("04:10:00:02", "04:10:00:0Z", 1); // line 4 of the file
    std::fs::write(o.dir.path().join("etc/boende.csv"), &csv).unwrap();
    let (code, out) = o.run(&["import", "--csv", "boende.csv"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("line 4, column secret"), "{out}");
    std::fs::write(o.dir.path().join("etc/boende.csv"), csv.replacen("doors", "dörrar", 1)).unwrap();
    let (code, out) = o.run(&["import", "--csv", "boende.csv"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("column dörrar: is not a column this list has") || out.contains("lacks doors"), "{out}");
}

#[test]
fn two_people_whose_names_make_one_id_are_refused_not_merged_into_one_holder() {
    let o = Authority::owner_with_residents();
    let csv = "id,name,holder,group,role,kind,secret,doors\n\
               t1,Per Svensson,,lgh-1101,resident,tag,04:20:00:01,entrance\n\
               t2,Per Svensson,,lgh-1204,resident,tag,04:20:00:02,entrance\n";
    std::fs::write(o.dir.path().join("etc/per.csv"), csv).unwrap();
    let (code, out) = o.run(&["import", "--csv", "per.csv"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("line 3: \"Per Svensson\" makes the id per-svensson, as \"Per Svensson\" on line 2"), "{out}");
    // One person with a tag and a PIN on two rows is one holder.
    let csv = "id,name,holder,group,role,kind,secret,doors\n\
               t1,Per Svensson,,lgh-1101,resident,tag,04:20:00:01,entrance\n\
               p1,Per Svensson,,lgh-1101,resident,pin,2468,entrance\n";
    std::fs::write(o.dir.path().join("etc/per.csv"), csv).unwrap();
    o.ok(&["import", "--csv", "per.csv"]);
    assert!(o.ok(&["holder", "list"]).contains("Per Svensson per-svensson (resident, lgh-1101)"));
}
