//! `portvakt check-config` as an installer meets it: exit codes, summaries, and error
//! messages that name every bad key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

fn check(path: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .arg("--config")
        .arg(path)
        .arg("check-config")
        .env_remove("PORTVAKT__SITE__NAME")
        .output()
        .expect("runs portvakt");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_example_config_passes_with_a_summary() {
    let example = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/portvakt.toml");
    let (code, out, err) = check(&example);
    assert_eq!(code, 0, "stderr: {err}");
    for want in
        ["storgatan-12", "door       entrance", "door       rubbish", "door       laundry", "door code  on entrance"]
    {
        assert!(out.contains(want), "summary lacks {want:?}:\n{out}");
    }
}

#[test]
fn every_bad_fixture_exits_78_and_names_each_expected_key() {
    let dir = common::fixture("config/bad");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no '# expect:' lines", path.display());
        let (code, out, err) = check(&path);
        assert_eq!(code, 78, "{}: exit {code}, stdout {out}, stderr {err}", path.display());
        assert!(out.is_empty(), "{}: a bad config printed a summary", path.display());
        for want in expected {
            assert!(err.contains(want), "{}: error output lacks {want:?}:\n{err}", path.display());
        }
        assert!(!err.contains("panicked"), "{}: {err}", path.display());
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} bad fixtures found");
}

#[test]
fn a_missing_config_file_is_a_clear_error_with_exit_78() {
    let (code, _, err) = check(std::path::Path::new("/nonexistent/portvakt.toml"));
    assert_eq!(code, 78);
    assert!(err.contains("cannot read /nonexistent/portvakt.toml"), "{err}");
}

#[test]
fn a_binary_file_is_refused_without_a_panic() {
    let dir = std::env::temp_dir().join(format!("portvakt-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("portvakt.toml");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x9c, 0x80]).unwrap();
    let (code, _, err) = check(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 78);
    assert!(err.contains("portvakt.toml") && !err.contains("panicked"), "{err}");
}

#[test]
fn a_secret_file_of_mode_640_as_the_package_installs_it_passes_and_one_others_can_read_is_warned() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    common::daemon::copy_dir(&common::fixture("config/good"), dir.path());
    let secret = dir.path().join("secrets/door-code");
    let key = dir.path().join("secrets/key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, out, err) = check(&dir.path().join("portvakt.toml"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("warning    door_code.code_file"), "640 (root:portvakt) is the rule:\n{out}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, out, _) = check(&dir.path().join("portvakt.toml"));
    assert!(out.contains("warning    door_code.code_file") && out.contains("chmod 640"), "{out}");
}

#[test]
fn the_summary_says_for_each_door_whether_its_strike_is_fail_safe_or_fail_secure() {
    let dir = tempfile::tempdir().unwrap();
    common::daemon::copy_dir(&common::fixture("config/good"), dir.path());
    let cfg = dir.path().join("portvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let safe = "relay = { bus = \"rs485\", unit = 2, channel = 3, energize_to_unlock = false }";
    std::fs::write(&cfg, text.replace("relay = { bus = \"rs485\", unit = 2, channel = 3 }", safe)).unwrap();
    let (code, out, err) = check(&cfg);
    assert_eq!(code, 0, "{err}");
    let line = |id: &str| out.lines().find(|l| l.starts_with(&format!("door       {id} "))).unwrap().to_owned();
    assert!(line("entrance").contains("fail-secure"), "{out}");
    let laundry = out.lines().find(|l| l.contains("rs485/2/3")).unwrap();
    assert!(laundry.contains("fail-safe") && laundry.contains("OPEN without power"), "{out}");
}

#[test]
fn a_problem_in_a_conf_d_file_or_from_the_environment_says_which_file_and_line_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    common::daemon::copy_dir(&common::fixture("config/good"), dir.path());
    std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
    std::fs::write(dir.path().join("conf.d/20-store.toml"), "# local store\n[store]\nmax_size_mib = 2\n").unwrap();
    let (code, _, err) = check(&dir.path().join("portvakt.toml"));
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("store.max_size_mib (conf.d/20-store.toml line 3): 2 MiB is outside 8 to 1048576"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .arg("--config")
        .arg(dir.path().join("portvakt.toml"))
        .arg("check-config")
        .env("PORTVAKT__STORE__RETENTION_DAYS", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store.retention_days (from PORTVAKT__STORE__RETENTION_DAYS): 0 days is outside"), "{err}");
}

#[test]
fn a_typo_inside_a_door_is_one_problem_named_by_the_door_not_three() {
    let dir = tempfile::tempdir().unwrap();
    common::daemon::copy_dir(&common::fixture("config/good"), dir.path());
    let cfg = dir.path().join("portvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let typo = text.replacen("contact = { bus", "contcat = { bus", 1);
    assert_ne!(typo, text);
    std::fs::write(&cfg, typo).unwrap();
    let (code, _, err) = check(&cfg);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("1 problem in the configuration"), "{err}");
    let line = text.lines().position(|l| l.starts_with("contact = { bus")).unwrap() + 1;
    assert!(err.contains(&format!("doors[0].contcat (line {line}, \"entrance\"): unknown field `contcat`")), "{err}");
    assert!(!err.contains("is not defined"), "the door's other mentions are not problems of their own: {err}");
}
