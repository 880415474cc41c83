//! The authority's workflow through the real binaries: set up keys, build a bundle from a
//! CSV export, sign it, drop it into a gateway's inbox, and see its holder admitted —
//! while bad input and careless key handling are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

fn run(bin: &str, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut c = Command::new(bin);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const ADMIN: &str = env!("CARGO_BIN_EXE_portvakt-admin");
const GATEWAY: &str = env!("CARGO_BIN_EXE_portvakt");

/// A copy of the test site whose owner and municipality keys are made by keygen.
fn site_with_fresh_keys(dir: &Path) -> (String, String) {
    let (code, out, err) = run(ADMIN, &["keygen", "--out", dir.join("kommunen.key").to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let public = out.lines().find_map(|l| l.strip_prefix("public key:  ")).unwrap().trim().to_owned();
    let mode = std::fs::metadata(dir.join("kommunen.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the private key is written for its owner only");
    let cfg_dir = dir.join("etc");
    std::fs::create_dir_all(cfg_dir.join("secrets")).unwrap();
    for f in ["secrets/key", "secrets/door-code"] {
        std::fs::copy(common::fixture("config/good").join(f), cfg_dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(common::fixture("config/good/portvakt.toml")).unwrap();
    let text = text.replace("8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394", &public);
    let text = format!("{text}\n[store]\npath = \"../state/portvakt.db\"\n");
    let text = text.replace("hash_key_file = \"secrets/key\"", "hash_key_file = \"secrets/key\"\ninbox = \"../inbox\"");
    std::fs::write(cfg_dir.join("portvakt.toml"), text).unwrap();
    std::fs::create_dir_all(dir.join("inbox")).unwrap();
    (cfg_dir.join("portvakt.toml").display().to_string(), public)
}

#[test]
fn a_municipality_bundle_from_csv_admits_its_staff_after_intake() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = site_with_fresh_keys(dir.path());
    let csv = dir.path().join("staff.csv");
    std::fs::write(&csv, "id,holder,role,kind,secret,doors\ncare-9,hemtjanst-natt-9,home_care,pin,246810,entrance\n")
        .unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let site_key = common::fixture("config/good/secrets/key").display().to_string();
    let (code, out, err) = run(
        ADMIN,
        &[
            "bundle",
            "build",
            "--authority",
            "kommunen",
            "--site",
            "test-site",
            "--version",
            "3",
            "--site-key",
            &site_key,
            "--csv",
            &p("staff.csv"),
            "--out",
            &p("staff.body"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 credential(s)"), "{out}");
    let signed = dir.path().join("inbox/staff-3.pvkt").display().to_string();
    let (code, _, err) =
        run(ADMIN, &["bundle", "sign", "--in", &p("staff.body"), "--key", &p("kommunen.key"), "--out", &signed], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(ADMIN, &["bundle", "inspect", "--json", &signed], &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["entries"][0]["kind"], "pin");
    assert!(!out.contains("246810"), "the PIN never leaves the authority in clear");

    let explain = || {
        run(
            GATEWAY,
            &["--config", &config, "explain", "--door", "entrance", "--pin", "246810", "--at", "2026-11-24T03:00"],
            &[],
        )
    };
    assert!(explain().1.contains("STAYS SHUT"), "before intake the PIN is unknown");
    let (code, out, err) = run(GATEWAY, &["--config", &config, "intake"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("accepted  staff-3.pvkt: bundle of kommunen, version 3, 1 credential(s)"), "{out}");
    let (_, out, _) = explain();
    assert!(out.contains("OPENS") && out.contains("hemtjanst-natt-9"), "{out}");

    // Revoked, explain says what the daemon would: it stays shut.
    let revocations = dir.path().join("inbox/revoke-1.pvkt").display().to_string();
    let (code, _, err) = run(
        ADMIN,
        &["revoke", "--authority", "kommunen", "--id", "care-9", "--key", &p("kommunen.key"), "--out", &revocations],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(GATEWAY, &["--config", &config, "intake"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = explain();
    assert!(out.contains("STAYS SHUT") && out.contains("revoked"), "{out}");
}

#[test]
fn a_csv_with_bad_rows_names_each_and_writes_no_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(
        dir.path().join("bad.csv"),
        "id,holder,role,kind,secret,doors\nok,a,home_care,pin,1234,entrance\nbad,b,home_care,pin,12x4,entrance\nworse,c,home_care,phone,abc,entrance\n",
    )
    .unwrap();
    let site_key = common::fixture("config/good/secrets/key").display().to_string();
    let (code, _, err) = run(
        ADMIN,
        &[
            "bundle",
            "build",
            "--authority",
            "kommunen",
            "--site",
            "test-site",
            "--site-key",
            &site_key,
            "--csv",
            &p("bad.csv"),
            "--out",
            &p("out.body"),
        ],
        &[],
    );
    assert_eq!(code, 65);
    assert!(err.contains("bad.csv: line 3, column secret: a PIN is 4 to 8 digits"), "{err}");
    assert!(err.contains("bad.csv: line 4, column secret: a phone key is 64 hexadecimal digits"), "{err}");
    assert!(!dir.path().join("out.body").exists(), "no partial bundle");
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("owner.key");
    run(ADMIN, &["keygen", "--out", key.to_str().unwrap()], &[]);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(dir.path().join("x.body"), b"").unwrap();
    let (code, _, err) = run(ADMIN, &["pubkey", "--key", key.to_str().unwrap()], &[]);
    assert_eq!(code, 65);
    assert!(err.contains("can be read by other users") && err.contains("chmod 600"), "{err}");
    let (code, _, _) = run(ADMIN, &["keygen", "--out", key.to_str().unwrap()], &[]);
    assert_eq!(code, 65, "keygen never overwrites a key");
}

#[test]
fn command_line_mistakes_exit_64_and_help_exits_0() {
    for bin in [ADMIN, GATEWAY] {
        let (code, _, err) = run(bin, &["--no-such-flag"], &[]);
        assert_eq!(code, 64, "{bin}: {err}");
        let (code, out, _) = run(bin, &["--help"], &[]);
        assert_eq!(code, 0, "{bin}");
        assert!(out.contains("Usage"), "{out}");
    }
    // Each tool names itself.
    let (_, out, _) = run(ADMIN, &["--version"], &[]);
    assert!(out.starts_with("portvakt-admin "), "{out}");
    let (_, out, _) = run(ADMIN, &["--help"], &[]);
    assert!(out.contains("authority's tool") && !out.contains("gateway daemon"), "{out}");
    let (_, out, _) = run(GATEWAY, &["--version"], &[]);
    assert!(out.starts_with("portvakt "), "{out}");
}

#[test]
fn signing_with_the_public_key_file_is_refused_not_done_with_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (code, _, err) = run(ADMIN, &["keygen", "--out", &p("owner.key")], &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::set_permissions(dir.path().join("owner.key.pub"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let revoke = |key: &str| {
        let args = ["revoke", "--authority", "owner", "--id", "c-1", "--key", key, "--out", &p("rev.pvkt")];
        run(ADMIN, &args, &[])
    };
    let (code, _, err) = revoke(&p("owner.key.pub"));
    assert_ne!(code, 0);
    assert!(err.contains("is a public key"), "{err}");
    assert!(!dir.path().join("rev.pvkt").exists(), "nothing was signed");
    // A copy of the public key under another name is caught by the .pub beside the key.
    std::fs::copy(dir.path().join("owner.key.pub"), dir.path().join("copy.key")).unwrap();
    std::fs::copy(dir.path().join("owner.key.pub"), dir.path().join("copy.key.pub")).unwrap();
    let (_, _, err) = revoke(&p("copy.key"));
    assert!(err.contains("is a public key"), "{err}");
    let (code, _, err) = revoke(&p("owner.key"));
    assert_eq!(code, 0, "the private key signs: {err}");
}

#[test]
fn a_bundle_too_short_for_its_reissue_cadence_is_warned_about_when_built() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("staff.csv");
    std::fs::write(&csv, "id,holder,role,kind,secret,doors\ncare-9,hemtjanst-natt-9,home_care,pin,246810,entrance\n")
        .unwrap();
    let site_key = common::fixture("config/good/secrets/key").display().to_string();
    let build = |days: &str, every: &str, out: &str| {
        let out = dir.path().join(out).display().to_string();
        let csv = csv.display().to_string();
        run(
            ADMIN,
            &[
                "bundle",
                "build",
                "--authority",
                "kommunen",
                "--site",
                "test-site",
                "--site-key",
                &site_key,
                "--csv",
                &csv,
                "--valid-days",
                days,
                "--reissue-every-days",
                every,
                "--out",
                &out,
            ],
            &[],
        )
    };
    let (code, _, err) = build("10", "7", "short.body");
    assert_eq!(code, 0, "a warning, not a refusal: {err}");
    assert!(err.contains("warning:") && err.contains("at least 14"), "{err}");
    let (code, _, err) = build("30", "7", "fine.body");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning:"), "{err}");
}

#[test]
fn certify_takes_doors_separated_as_in_the_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (code, _, err) = run(ADMIN, &["keygen", "--out", &p("kommunen.key")], &[]);
    assert_eq!(code, 0, "{err}");
    let phone = "01".repeat(32);
    for (doors, file) in [("entrance;rubbish", "semi.pvkt"), ("entrance,rubbish", "comma.pvkt")] {
        let args = [
            "certify",
            "--authority",
            "kommunen",
            "--id",
            "c-1",
            "--holder",
            "kalle",
            "--role",
            "home_care",
            "--phone-key",
            &phone,
            "--doors",
            doors,
            "--key",
            &p("kommunen.key"),
            "--out",
            &p(file),
        ];
        let (code, _, err) = run(ADMIN, &args, &[]);
        assert_eq!(code, 0, "{err}");
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let env = portvakt::credentials::envelope::open(&bytes).unwrap();
        let cert = portvakt::credentials::certificate::PhoneCertificate::decode(env.body).unwrap();
        assert_eq!(cert.doors, ["entrance", "rubbish"], "{doors}");
    }
}

#[test]
fn explain_takes_the_door_mode_as_the_config_writes_it_and_with_a_hyphen() {
    let config = format!("{}/config/portvakt.toml", env!("CARGO_MANIFEST_DIR"));
    let allowlist = format!("{}/config/example-allowlist.toml", env!("CARGO_MANIFEST_DIR"));
    let explain = |mode: &str| {
        let args = [
            "--config",
            &config,
            "explain",
            "--allowlist",
            &allowlist,
            "--door",
            "entrance",
            "--tag",
            "04:A2:19:7F",
            "--at",
            "2026-11-24T12:00",
            "--mode",
            mode,
        ];
        run(GATEWAY, &args, &[])
    };
    let (code, underscore, err) = explain("free_passage");
    assert_eq!(code, 0, "{err}");
    assert!(underscore.contains("free passage") || underscore.contains("free_passage"), "{underscore}");
    assert_eq!(explain("free-passage").1, underscore);
}

#[test]
fn help_pages_end_with_examples_people_can_type() {
    for (bin, args, want) in [
        (GATEWAY, &["--help"][..], "  portvakt explain --door entrance --pin 2580 --at 2026-11-24T23:30"),
        (GATEWAY, &["audit", "list", "--help"][..], "  portvakt audit list --holder anna-lgh1101"),
        (GATEWAY, &["sim", "--help"][..], "  portvakt sim entrance tag 04:A2:19:7F"),
        (ADMIN, &["--help"][..], "  portvakt-admin bundle sign --in staff.body --key hemtjansten.key --out staff.pvkt"),
        (ADMIN, &["bundle", "build", "--help"][..], "--bookings bookings.csv --policy policy.toml"),
        (ADMIN, &["keygen", "--help"][..], "  portvakt-admin keygen --out phone.key"),
    ] {
        let (code, out, err) = run(bin, args, &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Example") && out.contains(want), "{args:?} lacks {want:?}:\n{out}");
    }
}
