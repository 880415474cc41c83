//! One layout for the gateway's health: `portvakt status --json` and the retained
//! `state` carry the keys `docs/mqtt.md` shows, and the last `state` at an orderly stop
//! keeps the last figures (BLE as configured, buses, bundles, doors).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::daemon::{TestDaemon, care_pin_bundle, portvakt_cli};
use common::mqtt::Subscriber;
use portvakt::daemon::control::Request;
use portvakt::uplink::sim_broker::SimBroker;
use serde_json::Value;

const P: &str = "portvakt/test-site";

/// The `state` example in docs/mqtt.md.
fn documented() -> Value {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mqtt.md")).unwrap();
    let from = doc.find("### `state`").unwrap();
    let block = &doc[from..];
    let start = block.find("```json\n").unwrap() + "```json\n".len();
    let end = start + block[start..].find("```").unwrap();
    serde_json::from_str(&block[start..end].replace('…', "")).unwrap()
}

/// Every key path in `v` (arrays by their first element; a bus's devices by their first
/// unit, whose id is data); a `null` stands for any value.
fn paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let path = if at.ends_with(".devices") { format!("{at}.<unit>") } else { format!("{at}.{k}") };
                out.insert(path.clone());
                paths(v, &path, out);
                if at.ends_with(".devices") {
                    break;
                }
            }
        }
        Value::Array(a) => {
            if let Some(first) = a.first() {
                paths(first, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

fn key_paths(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    paths(v, "", &mut out);
    out
}

/// Paths under a key whose value is `null` in `v` (their inside is not shown there).
fn under_nulls(v: &Value) -> Vec<String> {
    key_paths(v).into_iter().filter(|p| pointer(v, p).is_some_and(Value::is_null)).collect()
}

fn pointer<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.trim_start_matches('.').split('.') {
        let (name, array) = part.strip_suffix("[]").map_or((part, false), |n| (n, true));
        cur = if name == "<unit>" { cur.as_object()?.values().next()? } else { cur.get(name)? };
        if array {
            cur = cur.as_array()?.first()?;
        }
    }
    Some(cur)
}

/// Keys the doc names beside the example, present only sometimes: a simulated bus's
/// address, an untrusted clock's reason.
const SOMETIMES: [&str; 2] = [".buses[].simulated_at", ".clock.reason"];

/// The documented keys and `actual`'s, each side's nulls standing for any inside.
fn assert_same_layout(actual: &Value, what: &str) {
    let doc = documented();
    let (want, got) = (key_paths(&doc), key_paths(actual));
    let open: Vec<String> = under_nulls(&doc).into_iter().chain(under_nulls(actual)).collect();
    let inside_null =
        |p: &String| open.iter().any(|n| p.starts_with(&format!("{n}.")) || p.starts_with(&format!("{n}[]")));
    let missing: Vec<_> = want.difference(&got).filter(|p| !inside_null(p)).collect();
    let extra: Vec<_> = got.difference(&want).filter(|p| !inside_null(p) && !SOMETIMES.contains(&p.as_str())).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: documented but missing {missing:?}; undocumented {extra:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn status_json_and_the_retained_state_share_the_documented_layout_and_a_stop_keeps_the_figures() {
    let broker = SimBroker::start(0).await.unwrap();
    let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
    let sock = tempfile::tempdir().unwrap();
    let env = vec![
        ("PORTVAKT__UPLINK__BROKER".into(), format!("mqtt://127.0.0.1:{}", broker.addr().port())),
        ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".into(), "true".into()),
        ("PORTVAKT__BLE__SOCKET".into(), sock.path().join("ble.sock").display().to_string()),
    ];
    let d = TestDaemon::start_with(None, env.clone());
    d.notified("READY=1", 10).await;
    std::fs::write(d.inbox().join("care.pvkt"), care_pin_bundle("864209")).unwrap();
    d.ask(&Request::Intake).await.unwrap();
    d.audited("credentials.accepted").await;
    // The bundle in use and its credentials in the gateway's hands.
    let with_credentials = |s: &common::mqtt::Seen| s.json()["credentials"].as_u64().is_some_and(|n| n > 0);
    sub.wait(&format!("{P}/state"), 10, with_credentials).await;

    let (dir, cfg, extra) = (d.dir.path().to_path_buf(), d.config_path(), env.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        portvakt_cli(&dir, &cfg, &["status", "--json"], &extra)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_same_layout(&status, "status --json");
    assert_eq!(status["ble"], "socket");
    let retained: Value = serde_json::from_slice(&broker.retained(&format!("{P}/state")).unwrap()).unwrap();
    assert_same_layout(&retained, "the retained state");

    d.stop().await.unwrap();
    sub.wait(&format!("{P}/status"), 10, |s| s.text() == "offline").await;
    let kept: Value = serde_json::from_slice(&broker.retained(&format!("{P}/state")).unwrap()).unwrap();
    assert_eq!(kept["running"], false, "{kept}");
    assert_eq!(kept["ble"], "socket", "BLE as configured, not `not_configured`: {kept}");
    assert!(kept["buses"].as_array().is_some_and(|b| !b.is_empty()), "the last figures kept: {kept}");
    assert!(kept["bundles"].as_array().is_some_and(|b| b.len() == 1), "{kept}");
    assert_eq!(kept["doors"][0]["door"], "entrance", "{kept}");
    assert!(kept["credentials"].as_u64().is_some_and(|n| n > 0), "{kept}");
}
