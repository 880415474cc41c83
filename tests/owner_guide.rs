//! Every task of the owner's and home-care administrator's guide (`docs/owner.md`), run
//! as the guide writes it: `portvakt-admin` on a workspace, `publish` into the inbox of a
//! running gateway (`portvakt run --simulate`, the example building), `portvakt intake`,
//! and the effect checked with `explain` (and, where the time is now, at the simulated
//! door itself). Dates are days from today, so the bundles are valid whenever this runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::daemon::{copy_dir, portvakt_cli, spawn_run};

const ADMIN: &str = env!("CARGO_BIN_EXE_portvakt-admin");

/// The example building (`config/`) running under a daemon in a temporary folder.
struct Building {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    daemon: Option<Child>,
}

fn ble_env(dir: &Path) -> [(String, String); 1] {
    [("PORTVAKT__BLE__SOCKET".into(), dir.join("ble.sock").display().to_string())]
}

impl Building {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(more: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config"), &etc);
        for f in [
            "secrets/credential-hash.key",
            "secrets/door-code",
            "secrets/authorities/owner.key",
            "secrets/authorities/municipality.key",
        ] {
            std::fs::set_permissions(etc.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        let cfg = etc.join("portvakt.toml");
        let env = ble_env(dir.path());
        let mut extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        extra.extend_from_slice(more);
        let daemon = spawn_run(dir.path(), &cfg, true, &extra);
        Building { dir, cfg, daemon: Some(daemon) }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    /// `portvakt-admin --workspace <ws> <args>`: (exit code, stdout, stderr).
    fn admin_run(&self, ws: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut c = Command::new(ADMIN);
        c.arg("--workspace").arg(self.path(ws)).args(args).current_dir(self.dir.path().join("etc"));
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write as _;
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    fn admin(&self, ws: &str, args: &[&str]) -> String {
        let (code, out, err) = self.admin_run(ws, args, None);
        assert_eq!(code, 0, "portvakt-admin {args:?}:\n{out}{err}");
        out
    }

    fn portvakt(&self, args: &[&str]) -> String {
        let env = ble_env(self.dir.path());
        let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (code, out, err) = portvakt_cli(self.dir.path(), &self.cfg, args, &extra);
        assert_eq!(code, Some(0), "portvakt {args:?}:\n{out}{err}");
        out
    }

    /// Publishes the workspace into the gateway's inbox and takes it in at once.
    fn publish(&self, ws: &str) -> String {
        self.publish_with(ws, &[])
    }

    fn publish_with(&self, ws: &str, flags: &[&str]) -> String {
        let args: Vec<&str> = ["publish"].iter().chain(flags).copied().collect();
        let out = self.admin(ws, &args);
        let intake = self.portvakt(&["intake"]);
        assert!(intake.contains("accepted"), "{intake}");
        out
    }

    /// `explain`'s decision and reason, from what the gateway has stored.
    fn explain(&self, args: &[&str]) -> String {
        let out = self.portvakt(&[&["explain"], args].concat());
        out.lines().filter(|l| l.starts_with("decision:") || l.starts_with("because:")).collect::<Vec<_>>().join("\n")
    }

    /// `portvakt-admin booking add` of the laundry, 11:00 to 13:00 on `date`, for `holder`.
    fn book(&self, holder: &str, date: &str) {
        let (start, end) = (format!("{date}T11:00"), format!("{date}T13:00"));
        self.admin(
            "eken",
            &["booking", "add", "--door", "laundry", "--holder", holder, "--start", &start, "--end", &end],
        );
    }

    /// The owner's workspace for Storgatan 12 with the residents' list, published.
    fn owner(&self) {
        let inbox = self.path("inbox");
        self.owner_delivering_to(&["--inbox", &inbox]);
        self.publish("eken");
    }

    /// The owner's workspace with the residents' list, delivered as `delivery` says.
    fn owner_delivering_to(&self, delivery: &[&str]) {
        self.admin(
            "eken",
            &["init", "--authority", "owner", "--class", "owner", "--key", "secrets/authorities/owner.key"],
        );
        let site =
            ["site", "add", "storgatan-12", "--site-key", "secrets/credential-hash.key", "--config", "portvakt.toml"];
        self.admin("eken", &[&site[..], delivery].concat());
        self.admin("eken", &["import", "--csv", "example-residents.csv"]);
    }

    /// The municipality's workspace: two teams, one member each, published.
    fn municipality(&self) {
        let ws = "hemtjansten";
        self.admin(
            ws,
            &[
                "init",
                "--authority",
                "hemtjansten",
                "--class",
                "municipality",
                "--key",
                "secrets/authorities/municipality.key",
            ],
        );
        self.admin(ws, &["site", "add", "storgatan-12", "--config", "portvakt.toml", "--inbox", &self.path("inbox")]);
        self.admin(ws, &["group", "add", "team-norr", "--name", "Hemtjänsten Norr", "--doors", "entrance,rubbish"]);
        self.admin(ws, &["group", "add", "team-soder", "--name", "Hemtjänsten Söder", "--doors", "entrance"]);
        self.admin(ws, &["holder", "add", "kalle", "--role", "home_care", "--group", "team-norr"]);
        self.admin(
            ws,
            &["credential", "add", "--holder", "kalle", "--id", "kalle-telefon", "--phone-key", &"ab".repeat(32)],
        );
        self.publish(ws);
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = Command::new("kill").args(["-TERM", &d.id().to_string()]).status();
            let _ = d.wait();
        }
    }
}

/// A date `days` from today at the site, never Christmas Eve (closed in the example's laundry hours).
fn day(days: i64) -> String {
    let mut d = jiff::Zoned::now().in_tz("Europe/Stockholm").unwrap().date() + jiff::Span::new().days(days);
    if (d.month(), d.day()) == (12, 24) {
        d = d.tomorrow().unwrap();
    }
    d.to_string()
}

fn opens(decision: &str) -> bool {
    decision.starts_with("decision:  OPENS")
}

#[test]
fn booking_the_laundry_lets_the_resident_in_during_the_slot_only() {
    let b = Building::start();
    b.owner();
    let d = day(2);
    b.book("anna-lgh1101", &d);
    let out = b.publish("eken");
    assert!(out.contains("+ booking laundry"), "publish shows the change first:\n{out}");
    let tag = ["--door", "laundry", "--tag", "04:A2:19:7F", "--at"];
    assert!(opens(&b.explain(&[&tag[..], &[&format!("{d}T12:00")]].concat())), "inside the slot");
    assert!(!opens(&b.explain(&[&tag[..], &[&format!("{d}T14:00")]].concat())), "after it");
}

#[test]
fn a_booking_then_new_door_code_hours_then_another_booking_are_all_in_force() {
    let b = Building::start();
    b.owner();
    let (d1, d2) = (day(2), day(3));
    b.book("anna-lgh1101", &d1);
    b.publish("eken");
    b.admin("eken", &["hours", "door-code", "--window", "mon-sun 07:00-21:00"]);
    b.publish("eken");
    b.book("lars-lgh1203", &d2);
    let out = b.publish("eken");
    assert!(out.contains("+ booking laundry") && !out.contains("- booking"), "only the new booking changes:\n{out}");
    assert!(!out.contains("door code hours"), "the hours are not touched by a booking:\n{out}");

    assert!(
        opens(&b.explain(&["--door", "laundry", "--tag", "04:A2:19:7F", "--at", &format!("{d1}T12:00")])),
        "the first booking"
    );
    assert!(
        opens(&b.explain(&["--door", "laundry", "--tag", "04:99:88:77", "--at", &format!("{d2}T12:00")])),
        "the second booking"
    );
    let late = b.explain(&["--door", "entrance", "--pin", "2580", "--at", &format!("{d2}T21:30")]);
    assert!(!opens(&late) && late.contains("07:00–21:00"), "the new door code hours:\n{late}");
    assert!(opens(&b.explain(&["--door", "entrance", "--pin", "2580", "--at", &format!("{d2}T20:30")])));
}

#[test]
fn changing_the_door_code_hours_moves_when_the_code_opens_the_entrance() {
    let b = Building::start();
    b.owner();
    let d = day(1);
    let at_2130 = ["--door", "entrance", "--pin", "2580", "--at", &format!("{d}T21:30")].map(String::from);
    let at_2130: Vec<&str> = at_2130.iter().map(String::as_str).collect();
    assert!(opens(&b.explain(&at_2130)), "the config's hours run to 22:00");
    b.admin("eken", &["hours", "door-code", "--window", "mon-sun 07:00-21:00"]);
    let out = b.publish("eken");
    // The config's own door-code schedule changes; no look-alike is added beside it.
    assert!(out.contains("+ schedule door-code-hours: mon-sun 07:00-21:00"), "{out}");
    assert!(!out.contains("schedule door-code:") && !out.contains("door code hours:"), "{out}");
    assert!(!opens(&b.explain(&at_2130)));
    let week = d.parse::<jiff::civil::Date>().unwrap().iso_week_date();
    let schedule = b.portvakt(&["schedule", "--week", &format!("{}-W{:02}", week.year(), week.week())]);
    assert!(schedule.contains("schedule door-code-hours: replaced by the owner's signed policy"), "{schedule}");
}

#[test]
fn closing_the_laundry_on_a_holiday_keeps_even_a_booked_resident_out() {
    let b = Building::start();
    b.owner();
    let d = day(4);
    b.book("anna-lgh1101", &d);
    b.publish("eken");
    let at = ["--door", "laundry", "--tag", "04:A2:19:7F", "--at", &format!("{d}T12:00")].map(String::from);
    let at: Vec<&str> = at.iter().map(String::as_str).collect();
    assert!(opens(&b.explain(&at)));
    b.admin("eken", &["holiday", "add", "--date", &d, "--schedule", "laundry-hours"]);
    // The booking on the closed day is a warning the owner has to accept.
    let (code, out, err) = b.admin_run("eken", &["publish"], None);
    let warned = format!("{out}{err}");
    assert_ne!(code, 0, "{warned}");
    assert!(warned.contains("laundry is closed for all of it"), "{warned}");
    let out = b.publish_with("eken", &["--accept-warnings"]);
    assert!(out.contains(&format!("closed {d}")), "{out}");
    assert!(out.contains("closed 2026-12-24"), "the config's own closure is kept:\n{out}");
    let refused = b.explain(&at);
    assert!(!opens(&refused) && refused.contains("laundry-hours"), "{refused}");
}

#[test]
fn a_lost_tag_is_blocked_at_once_and_its_holder_keeps_their_pin() {
    let b = Building::start();
    b.owner();
    b.admin("eken", &["credential", "remove", "anna-tag", "--revoke"]);
    let out = b.publish("eken");
    assert!(out.contains("- tag anna-tag of anna-lgh1101"), "{out}");
    assert!(out.contains("owner-revocations-"), "the revocation list goes with it:\n{out}");
    let d = day(1);
    let lost = b.explain(&["--door", "entrance", "--tag", "04:A2:19:7F", "--at", &format!("{d}T12:00")]);
    assert!(!opens(&lost), "{lost}");
    assert!(opens(&b.explain(&["--door", "entrance", "--pin", "4711", "--at", &format!("{d}T12:00")])));
    let (code, _, err) = b.admin_run(
        "eken",
        &["credential", "add", "--holder", "anna-lgh1101", "--id", "anna-tag", "--tag", "04:11:22:33"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("was revoked and can never be used again"), "{err}");
    let (_, out, _) = b.admin_run("eken", &["credential", "remove", "lars-tag"], None);
    assert!(out.contains("credential revoke lars-tag"), "removing an issued tag without --revoke offers it:\n{out}");
}

#[test]
fn a_new_resident_gets_a_tag_and_a_pin_read_from_standard_input() {
    let b = Building::start();
    b.owner();
    b.admin("eken", &["group", "add", "lgh-1302", "--doors", "entrance,rubbish,laundry"]);
    b.admin("eken", &["holder", "add", "maja-lgh1302", "--role", "resident", "--group", "lgh-1302"]);
    b.admin("eken", &["credential", "add", "--holder", "maja-lgh1302", "--id", "maja-tag", "--tag", "04:5B:22:C1"]);
    let (code, out, err) = b.admin_run(
        "eken",
        &["credential", "add", "--holder", "maja-lgh1302", "--id", "maja-pin", "--pin", "-", "--doors", "entrance"],
        Some("2468\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    let holders = std::fs::read_to_string(b.path("eken/holders.toml")).unwrap();
    assert!(!holders.contains("2468"), "the PIN is kept only as a digest:\n{holders}");
    let out = b.publish("eken");
    assert!(
        out.contains("+ holder maja-lgh1302 (resident)")
            && out.contains("+ tag maja-tag of maja-lgh1302: entrance, rubbish, laundry"),
        "{out}"
    );
    let d = day(1);
    assert!(opens(&b.explain(&["--door", "rubbish", "--tag", "04:5B:22:C1", "--at", &format!("{d}T23:00")])));
    assert!(opens(&b.explain(&["--door", "entrance", "--pin", "2468", "--at", &format!("{d}T23:00")])));
    let sim = b.portvakt(&["sim", "entrance", "tag", "04:5B:22:C1"]);
    assert!(sim.contains("granted"), "the simulated entrance opens for her now:\n{sim}");
}

#[test]
fn a_new_staff_member_gets_a_phone_key_for_the_doors_of_their_team() {
    let b = Building::start();
    b.owner();
    b.municipality();
    b.admin("hemtjansten", &["keygen", "--out", &b.path("phone.key")]);
    let public = std::fs::read_to_string(b.path("phone.key.pub")).unwrap();
    b.admin("hemtjansten", &["holder", "add", "ny-personal", "--role", "home_care", "--group", "team-norr"]);
    b.admin(
        "hemtjansten",
        &["credential", "add", "--holder", "ny-personal", "--id", "ny-telefon", "--phone-key", public.trim()],
    );
    let out = b.publish("hemtjansten");
    assert!(out.contains("+ phone ny-telefon of ny-personal: entrance, rubbish"), "{out}");
    let d = day(1);
    assert!(opens(&b.explain(&["--door", "rubbish", "--phone", public.trim(), "--at", &format!("{d}T03:00")])));
    let (code, out, err) = b.admin_run(
        "hemtjansten",
        &["phone", "--socket", &b.path("ble.sock"), "--key", &b.path("phone.key"), "--door", "entrance"],
        None,
    );
    assert_eq!((code, out.trim()), (0, "entrance: granted"), "over the gateway's BLE socket: {err}");
}

#[test]
fn moving_a_staff_member_to_another_team_changes_their_doors() {
    let b = Building::start();
    b.owner();
    b.municipality();
    let phone = "ab".repeat(32);
    let d = day(1);
    let rubbish = ["--door", "rubbish", "--phone", &phone, "--at", &format!("{d}T10:00")].map(String::from);
    let rubbish: Vec<&str> = rubbish.iter().map(String::as_str).collect();
    assert!(opens(&b.explain(&rubbish)), "team-norr has the rubbish room");
    b.admin("hemtjansten", &["holder", "change", "kalle", "--group", "team-soder"]);
    let out = b.publish("hemtjansten");
    assert!(out.contains("~ phone kalle-telefon of kalle: doors entrance, rubbish -> entrance"), "{out}");
    assert!(!opens(&b.explain(&rubbish)), "team-soder has the entrance only");
    assert!(opens(&b.explain(&["--door", "entrance", "--phone", &phone, "--at", &format!("{d}T10:00")])));
}

#[test]
fn an_unchanged_workspace_or_one_without_the_residents_is_not_published_unless_meant() {
    let b = Building::start();
    b.owner();
    let (code, _, err) = b.admin_run("eken", &["publish"], None);
    assert_ne!(code, 0);
    assert!(err.contains("nothing changed since the last bundle"), "{err}");
    for h in ["anna-lgh1101", "lars-lgh1203", "erik-vicevard"] {
        b.admin("eken", &["holder", "remove", h]);
    }
    let (code, out, err) = b.admin_run("eken", &["publish"], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("every credential is removed (4 in the last bundle)") && err.contains("--allow-large-change"),
        "{out}{err}"
    );
    assert!(
        std::fs::read_dir(b.path("inbox")).unwrap().filter_map(Result::ok).all(|e| e.path().is_dir()),
        "nothing was delivered"
    );
    b.admin("eken", &["publish", "--renew", "--allow-large-change"]);
}

#[test]
fn bookings_from_a_booking_systems_calendar_export_are_in_force() {
    let b = Building::start();
    b.owner();
    b.admin("eken", &["group", "add", "lgh-1101", "--doors", "entrance,rubbish,laundry"]);
    b.admin("eken", &["holder", "change", "anna-lgh1101", "--group", "lgh-1101"]);
    let d = day(5).replace('-', "");
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tvattbokning//SV\r\n\
         BEGIN:VEVENT\r\nUID:pass-1@tvatt\r\nSUMMARY:Tvättpass lgh-1101\r\nDTSTART;TZID=Europe/Stockholm:{d}T110000\r\nDTEND;TZID=Europe/Stockholm:{d}T130000\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    );
    std::fs::write(b.path("etc/bokningar.ics"), ics).unwrap();
    let out = b.admin("eken", &["booking", "import", "--ics", "bokningar.ics", "--door", "laundry"]);
    assert!(out.contains("1 booking(s) at laundry of storgatan-12 taken"), "{out}");
    b.publish("eken");
    let date = day(5);
    assert!(opens(&b.explain(&["--door", "laundry", "--tag", "04:A2:19:7F", "--at", &format!("{date}T12:00")])));
}

#[test]
fn in_force_says_whether_the_gateway_runs_with_what_the_workspace_issued() {
    let b = Building::start();
    b.owner();
    let status = b.portvakt(&["status", "--json"]);
    std::fs::write(b.path("status.json"), &status).unwrap();
    let out = b.admin("eken", &["in-force", "--status", &b.path("status.json")]);
    assert!(
        out.contains("the last this workspace issued") && out.contains("exactly what the workspace holds"),
        "{out}"
    );
    b.admin("eken", &["hours", "free-passage", "--door", "entrance", "--off"]);
    let out = b.admin("eken", &["in-force", "--status", &b.path("status.json")]);
    assert!(out.contains("~ free passage at entrance: the config's -> none"), "{out}");
}

/// The in-library broker on a thread of its own, for the length of the test.
fn broker() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let b = portvakt::uplink::sim_broker::SimBroker::start(0).await.unwrap();
            tx.send(b.addr().port()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

#[test]
fn a_bundle_published_over_mqtt_is_taken_in_and_in_force_reads_the_gateways_state_back() {
    let port = broker();
    let url = format!("mqtt://127.0.0.1:{port}");
    let b = Building::start_with(&[("PORTVAKT__UPLINK__BROKER", &url), ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT", "true")]);
    b.owner_delivering_to(&["--broker", &url]);
    let out = b.admin("eken", &["publish"]);
    assert!(out.contains("published retained on portvakt/storgatan-12/bundle/owner"), "{out}");
    assert!(out.contains("storgatan-12: the gateway took in version"), "publish waits for the verdict:\n{out}");
    let d = day(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !opens(&b.explain(&["--door", "entrance", "--tag", "04:A2:19:7F", "--at", &format!("{d}T12:00")])) {
        assert!(std::time::Instant::now() < deadline, "the gateway did not take the bundle in over MQTT");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let out = b.admin("eken", &["in-force", "--mqtt"]);
        if out.contains("the last this workspace issued") {
            assert!(out.contains("exactly what the workspace holds"), "{out}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the retained state never named the new version:\n{out}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn renew_reissues_only_a_bundle_that_is_due_and_publish_out_writes_to_a_folder() {
    let b = Building::start();
    b.owner();
    let out = b.admin("eken", &["renew"]);
    assert!(out.contains("not due yet"), "{out}");
    let settings = b.path("eken/workspace.toml");
    let text = std::fs::read_to_string(&settings).unwrap().replace("reissue_every_days = 7", "reissue_every_days = 0");
    std::fs::write(&settings, text).unwrap();
    let out = b.admin("eken", &["renew"]);
    assert!(
        out.contains("signed owner-storgatan-12-") && out.contains("no changes"),
        "an unchanged state is re-issued:\n{out}"
    );
    let intake = b.portvakt(&["intake"]);
    assert!(intake.contains("accepted"), "{intake}");

    std::fs::create_dir_all(b.path("usb")).unwrap();
    b.admin("eken", &["hours", "free-passage", "--door", "entrance", "--off"]);
    let out = b.admin("eken", &["publish", "--out", &b.path("usb")]);
    assert!(out.contains(&format!("written to {}/owner-storgatan-12-", b.path("usb"))), "{out}");
    let files: Vec<_> = std::fs::read_dir(b.path("usb")).unwrap().filter_map(Result::ok).collect();
    assert_eq!(files.len(), 1, "one bundle, no temporary file left: {files:?}");
}

#[test]
fn a_bundle_the_gateway_refuses_is_said_by_publish_and_by_in_force_with_the_reason() {
    let port = broker();
    let url = format!("mqtt://127.0.0.1:{port}");
    let b = Building::start_with(&[("PORTVAKT__UPLINK__BROKER", &url), ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT", "true")]);
    let ws = "hemtjansten";
    b.admin(
        ws,
        &["init", "--authority", ws, "--class", "municipality", "--key", "secrets/authorities/municipality.key"],
    );
    let key = "secrets/credential-hash.key";
    b.admin(ws, &["site", "add", "storgatan-12", "--site-key", key, "--config", "portvakt.toml", "--broker", &url]);
    // The workspace's copy of the grant is older than the gateway's config: it still lists
    // the laundry, which the owner has since taken back.
    let settings = b.path("hemtjansten/workspace.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let stale =
        text.replacen("doors = [\"entrance\", \"rubbish\"]", "doors = [\"entrance\", \"rubbish\", \"laundry\"]", 1);
    assert_ne!(text, stale, "{text}");
    std::fs::write(&settings, stale).unwrap();
    b.admin(ws, &["group", "add", "team-norr", "--doors", "entrance,laundry"]);
    b.admin(ws, &["holder", "add", "kalle", "--role", "home_care", "--group", "team-norr"]);
    b.admin(ws, &["credential", "add", "--holder", "kalle", "--id", "kalle-tag", "--tag", "04:11:22:33"]);
    let (code, out, err) = b.admin_run(ws, &["publish"], None);
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(said.contains("was REFUSED by the gateway at") && said.contains("laundry"), "{said}");
    let out = b.admin(ws, &["in-force", "--mqtt"]);
    assert!(out.contains("nothing of hemtjansten is in force") && out.contains("was REFUSED by the gateway"), "{out}");
    let status = b.portvakt(&["status"]);
    assert!(status.contains("REFUSED    bundle of hemtjansten version"), "{status}");
}

#[test]
fn a_second_owner_workspace_does_not_silently_replace_the_first_ones_bundle() {
    let b = Building::start();
    b.owner();
    let inbox = b.path("inbox");
    let other = "eken-kopia";
    b.admin(other, &["init", "--authority", "owner", "--class", "owner", "--key", "secrets/authorities/owner.key"]);
    let site =
        ["site", "add", "storgatan-12", "--site-key", "secrets/credential-hash.key", "--config", "portvakt.toml"];
    b.admin(other, &[&site[..], &["--inbox", &inbox]].concat());
    b.admin(other, &["hours", "door-code", "--window", "mon-sun 09:00-17:00"]);
    let before = std::fs::read_dir(&inbox).unwrap().count();
    let (code, out, err) = b.admin_run(other, &["publish"], None);
    let said = format!("{out}{err}");
    assert_ne!(code, 0, "{said}");
    assert!(said.contains("replaces version") && said.contains("from another issuer"), "{said}");
    assert_eq!(std::fs::read_dir(&inbox).unwrap().count(), before, "nothing delivered");
    let out = b.admin(other, &["publish", "--replace-other-issuer", "--allow-large-change"]);
    assert!(out.contains("signed owner-storgatan-12-"), "{out}");
}

#[test]
fn explain_judges_a_clock_behind_the_gateways_floor_as_the_daemon_does() {
    let mut b = Building::start();
    let d = day(1);
    let code = ["--door", "entrance", "--pin", "2580"];
    assert!(opens(&b.explain(&[&code[..], &["--at", &format!("{d}T12:00")]].concat())));
    // The gateway has seen a time days ahead of this clock (the clock was stepped back):
    // the daemon does not trust it, and the door code stays off while it does not.
    if let Some(mut daemon) = b.daemon.take() {
        let _ = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status();
        let _ = daemon.wait();
    }
    let store = portvakt::store::Store::open(&portvakt::config::StoreOptions {
        path: b.dir.path().join("portvakt.db"),
        max_size_bytes: 16 << 20,
        retention: jiff::SignedDuration::from_hours(24 * 180),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    })
    .unwrap();
    store.raise_clock_floor(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 3)).unwrap();
    drop(store);
    let now = b.portvakt(&[&["explain"], &code[..]].concat());
    assert!(now.contains("STAYS SHUT") && now.contains("earlier than a time already seen"), "{now}");
    assert!(now.contains("the daemon does not trust it either"), "{now}");
    // On a trusted clock the door code follows only its hours (06:00-22:00 in the example's
    // config), whatever the hour this test runs at.
    let hour = || jiff::Zoned::now().in_tz("Europe/Stockholm").unwrap().hour();
    let before = hour();
    let trusted = b.portvakt(&[&["explain"], &code[..], &["--trusted-clock"]].concat());
    assert!(!trusted.contains("not trusted") && !trusted.contains("earlier than a time already seen"), "{trusted}");
    if before == hour() {
        if (6..22).contains(&before) {
            assert!(opens(&trusted), "{trusted}");
        } else {
            assert!(trusted.contains("STAYS SHUT") && trusted.contains("door code works only"), "{trusted}");
        }
    }
    // A moment asked about is judged as on a trusted clock then, with a note.
    let then = b.portvakt(&[&["explain"], &code[..], &["--at", &format!("{d}T12:00")]].concat());
    assert!(then.contains("OPENS") && then.contains("--at is before the gateway's clock floor"), "{then}");
}
