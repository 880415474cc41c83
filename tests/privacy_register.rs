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
    // The municipalities' records are staff visits: the store is told which audiences those are.
    let cfg = common::site();
    let municipalities: Vec<&str> = cfg
        .authorities
        .iter()
        .filter(|a| a.class == portvakt::config::AuthorityClass::Municipality)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(cfg.store.personal.staff_audiences, municipalities);
}
