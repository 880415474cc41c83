//! `schedule` and `check-config` show what is in force: the config with the owner's
//! signed site policy from the store, naming what came from the owner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{copy_dir, portvakt_cli};
use common::signed::{OWNER, bundle, signed};

#[test]
fn after_the_owner_moves_the_door_code_hours_schedule_and_check_config_show_the_new_ones_and_whose() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let cfg_path = dir.path().join("etc/portvakt.toml");
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    let cfg = common::site();
    let resident = "id,holder,role,kind,secret,doors\nres-1,anna,resident,pin,4711,entrance\n";
    let mut b = bundle(&cfg, "owner", 1, resident);
    b.policy = Some(
        portvakt::config::owner_policy(
            "[schedules.late]\nwindows = [{ days = \"mon-sun\", from = \"06:00\", to = \"23:00\" }]\n\
             [door_code]\nschedule = \"late\"\n[free_passage]\nentrance = \"\"\n",
        )
        .unwrap(),
    );
    std::fs::write(dir.path().join("inbox/owner.pvkt"), signed(&b, OWNER)).unwrap();
    let (code, out, err) = portvakt_cli(dir.path(), &cfg_path, &["intake"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");

    let (code, out, err) = portvakt_cli(dir.path(), &cfg_path, &["schedule", "--week", "2026-W49"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("in force: schedule late: added by the owner's signed policy"), "{out}");
    assert!(
        out.contains("in force: door code hours: schedule late (the owner's signed policy; the config says day)"),
        "{out}"
    );
    assert!(out.contains("in force: door entrance: free passage none"), "{out}");
    assert!(out.contains("door code (late)"), "the week grid shows the owner's hours:\n{out}");

    let (code, out, err) = portvakt_cli(dir.path(), &cfg_path, &["check-config"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("in force   door code hours: schedule late"), "{out}");
}
