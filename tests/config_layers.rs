//! Configuration layering: main file, then conf.d/*.toml in name order, then
//! `PORTVAKT__SECTION__KEY` environment variables; and problems collected, not the first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use portvakt::config::{ConfigError, LoadOptions, load};

fn layered() -> LoadOptions {
    LoadOptions::file(common::fixture("config/layered/portvakt.toml"))
}

#[test]
fn conf_d_files_apply_in_name_order_after_the_main_file() {
    let cfg = load(&layered()).unwrap();
    assert_eq!(cfg.site.name, "from conf.d/20");
    assert_eq!(cfg.policy.lockout.max_failures, 7, "conf.d/10 still applies where 20 is silent");
    assert_eq!(cfg.files.len(), 3, "the .txt file in conf.d is not read: {:?}", cfg.files);
}

#[test]
fn environment_variables_override_every_file() {
    let mut opts = layered();
    opts.env = vec![
        ("PORTVAKT__SITE__NAME".into(), "from the environment".into()),
        ("PORTVAKT__KEYPAD_LOCKOUT__MAX_FAILURES".into(), "9".into()),
        ("UNRELATED__SITE__NAME".into(), "ignored".into()),
    ];
    let cfg = load(&opts).unwrap();
    assert_eq!(cfg.site.name, "from the environment");
    assert_eq!(cfg.policy.lockout.max_failures, 9);
}

#[test]
fn an_environment_value_of_the_wrong_type_names_its_key() {
    let mut opts = layered();
    opts.env = vec![("PORTVAKT__KEYPAD_LOCKOUT__MAX_FAILURES".into(), "many".into())];
    match load(&opts) {
        Err(ConfigError::Invalid(p)) => {
            assert!(p.iter().any(|p| p.path == "keypad_lockout.max_failures"), "{p:?}");
        }
        other => panic!("expected a problem, got {other:?}"),
    }
}

#[test]
fn reports_all_problems_of_a_bad_file_at_once() {
    match load(&LoadOptions::file(common::fixture("config/bad/bad-references.toml"))) {
        Err(ConfigError::Invalid(p)) => assert!(p.len() >= 9, "only {} problems: {p:#?}", p.len()),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    let err = load(&LoadOptions::file(common::fixture("config/bad/syntax.toml"))).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(text.contains("syntax.toml") && text.contains("line 7, column"), "{text}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let cfg = common::site();
    let dump = format!("{cfg:?}");
    assert!(!dump.contains("00112233445566778899aabbccddeeff"), "the credential key leaked");
    assert!(!dump.contains("1357"), "the door code leaked");
}

#[test]
fn an_owners_policy_file_reports_every_problem_with_its_key_path() {
    let problems = portvakt::config::owner_policy(
        "[schedules.late]\nwindows = [{ days = \"mon-fun\", from = \"06:00\", to = \"25:00\" }]\n\
         [free_passage]\nEntrance = \"late\"\n",
    )
    .unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for want in [
        "schedules.late.windows[0].days",
        "schedules.late.windows[0].to: 25:00 is not a time of day",
        "free_passage.Entrance",
    ] {
        assert!(text.iter().any(|t| t.starts_with(want)), "missing {want} in {text:#?}");
    }
    let unknown = portvakt::config::owner_policy("[lobby]\nopen = true\n").unwrap_err();
    assert!(unknown[0].to_string().contains("unknown field `lobby`"), "{unknown:?}");
}
