//! `docs/privacy.md` is the register of processing a DPO signs: the figures and rules it
//! names must be the ones the gateway uses. Each `setting` = N it states is read back and
//! compared with the configuration's default, in both languages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

fn register() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/privacy.md")).unwrap()
}

/// Every number stated as "`name` = N" in the register, each time it is stated.
fn stated(doc: &str, name: &str) -> Vec<i64> {
    let pattern = format!("`{name}` = ");
    doc.match_indices(&pattern)
        .map(|(at, _)| {
            let rest = &doc[at + pattern.len()..];
            rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
        })
        .collect()
}

#[test]
fn the_registers_retention_figures_are_the_gateways_defaults() {
    let doc = register();
    let cfg = common::site(); // the test site sets none of them: the defaults apply
    let days = |d: jiff::SignedDuration| d.as_hours() / 24;
    for (name, default) in [
        ("store.residents_days", days(cfg.store.personal.residents)),
        ("store.staff_days", days(cfg.store.personal.staff)),
    ] {
        let said = stated(&doc, name);
        assert!(said.len() >= 2, "{name} is stated in Swedish and English: {said:?}");
        assert!(said.iter().all(|n| *n == default), "{name}: the register says {said:?}, the code {default}");
    }
    assert!(doc.contains("`store.retention_days` (180 days)") && days(cfg.store.retention) == 180);
}

#[test]
fn the_registers_audiences_and_sealing_are_the_codes() {
    let doc = register();
    assert!(doc.contains(&format!("`{}`", portvakt::store::record::SITE)), "the building's own audience is named");
    assert!(doc.contains("X25519, HKDF-SHA256, ChaCha20-Poly1305"));
    for word in ["relatives", "invoicing", "deviation", "police", "other"] {
        assert!(doc.contains(&format!("(`{word}`)")), "the purpose {word} is listed");
    }
    // A municipality's records are staff visits kept only until its Central has them —
    // when its names reach it (a reading key) on the collector's word; the test site has
    // neither, so its visits are kept like residents' passages.
    let cfg = common::site();
    assert!(cfg.authorities.iter().any(|a| a.class == portvakt::config::AuthorityClass::Municipality));
    assert!(cfg.store.personal.staff_audiences.is_empty());
    let mut opts = portvakt::config::LoadOptions::file(common::fixture("config/good/portvakt.toml"));
    let key = portvakt::core::hex::encode(&portvakt_wire::personal::reading_pair(&[3; 32]).1);
    opts.env = vec![
        ("PORTVAKT__UPLINK__BROKER".into(), "mqtt://127.0.0.1:1883".into()),
        ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".into(), "true".into()),
        ("PORTVAKT__UPLINK__CONFIRM".into(), "collector".into()),
        ("PORTVAKT__UPLINK__COLLECTOR_KEY".into(), "11".repeat(32)),
    ];
    let text = std::fs::read_to_string(common::fixture("config/good/portvakt.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::daemon::copy_dir(&common::fixture("config/good"), dir.path());
    let with_key = text.replacen("id = \"kommunen\"\n", &format!("id = \"kommunen\"\nreading_key = \"{key}\"\n"), 1);
    std::fs::write(dir.path().join("portvakt.toml"), with_key).unwrap();
    opts.path = dir.path().join("portvakt.toml");
    let cfg = portvakt::config::load(&opts).unwrap();
    assert_eq!(cfg.store.personal.staff_audiences, ["kommunen"]);
}
