//! `portvakt demo` as a newcomer runs it: no hardware, exits 0 in seconds, and shows the
//! day and night at the example building through the real gateway path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn the_demo_runs_the_scripted_day_and_night_and_verifies_its_audit_chain() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("demo")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{text}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "laundry   OPENS (anna-lgh1101): booking",
        "laundry   STAYS SHUT (anna-lgh1101): no booking",
        "entrance  OPENS: door code during \"door-code-hours\"",
        "entrance  STAYS SHUT: outside schedule",
        "entrance  OPENS (anna-lgh1101): role resident",
        "entrance  door held open",
        "keypad locked until 23:40:50",
        "STAYS SHUT: keypad locked out",
        "entrance  door forced open",
        "hash chain verified",
    ] {
        assert!(text.contains(want), "the timeline lacks {want:?}:\n{text}");
    }
}
