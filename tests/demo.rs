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
        "phone: granted",
        "entrance  OPENS (hemtjanst-natt-3): role home_care",
        "hash chain verified",
    ] {
        assert!(text.contains(want), "the timeline lacks {want:?}:\n{text}");
    }
}

#[test]
fn the_demo_with_mqtt_publishes_birth_state_door_states_and_every_record_then_offline() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let broker = rt.block_on(portvakt::uplink::sim_broker::SimBroker::start(0)).unwrap();
    let port = broker.addr().port();
    let p = "portvakt/storgatan-12";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--mqtt", &format!("mqtt://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{text}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("every record published"), "{text}");
    assert_eq!(broker.retained(&format!("{p}/status")).as_deref(), Some(&b"offline"[..]));
    let state: serde_json::Value = serde_json::from_slice(&broker.retained(&format!("{p}/state")).unwrap()).unwrap();
    assert_eq!(state["site"], "storgatan-12");
    let door: serde_json::Value =
        serde_json::from_slice(&broker.retained(&format!("{p}/door/entrance/state")).unwrap()).unwrap();
    assert_eq!(door["lock"], "locked");
    let seqs: Vec<u64> = broker
        .events_received(&format!("{p}/events"))
        .iter()
        .map(|m| serde_json::from_slice::<serde_json::Value>(m).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let records: usize = text
        .lines()
        .find_map(|l| l.strip_suffix(" audit records, hash chain verified; relay writes: 15"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(seqs.len(), records, "every record reached the broker");
}

#[test]
fn the_demo_refuses_plain_mqtt_to_a_broker_off_this_machine() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--mqtt", "mqtt://broker.example.org"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback broker only"));
}

#[test]
fn a_demo_whose_broker_does_not_answer_says_so_up_front_fails_and_leaves_no_files() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--mqtt", &format!("mqtt://127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let files = std::env::temp_dir().join(format!("portvakt-demo-{}", child.id()));
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("portvakt demo: publishing to") && err.contains("was not reached"), "{err}");
    assert!(!files.exists(), "{} was left behind", files.display());
}

#[test]
fn the_demo_kept_running_ends_by_saying_where_its_building_answers_and_cleans_up_at_ctrl_c() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--keep-running"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let address = loop {
        let line = lines.next().expect("the demo ended before saying where its building runs").unwrap();
        if let Some(rest) = line.split_once("keeps running on modbus tcp://") {
            break rest.1.split_whitespace().next().unwrap().to_owned();
        }
        seen.push(line);
    };
    // The last lines say where, and the scan they suggest answers.
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config", "config/portvakt.toml", "scan", "--units", "1-2", "--tcp", &address])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&scan.stdout);
    assert!(text.contains("2 unit(s) answered"), "{text}");
    let store = lines.find_map(|l| l.ok()?.strip_prefix("store: ").map(std::path::PathBuf::from)).unwrap();
    assert!(store.exists(), "{}", store.display());
    let ok = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!store.exists(), "Ctrl-C left {}", store.display());
}
