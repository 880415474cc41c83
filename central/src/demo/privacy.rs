//! The demo's privacy part (`docs/privacy.md`): what the municipality's Central holds of a
//! resident's entry (its header, and its names sealed to the owner), the owner reading
//! its residents' passages with its own reading key while the municipality's opens none,
//! and the scripted period's end — personal parts erased by retention, every chain still
//! intact.

use std::path::Path;

use super::DemoError;
use super::gateway::{Building, Gateway};
use super::tools::{Tools, command, output};
use crate::{handover, retention, verify};

/// A resident's entry as Central holds it, and who can read it.
pub async fn show(
    tools: &Tools,
    building: &Building,
    dir: &Path,
    db: &mut tokio_postgres::Client,
    site: &str,
) -> Result<(), DemoError> {
    println!("\n== a resident's entry at {site}, as the municipality's Central holds it");
    let row = db
        .query_opt(
            "SELECT seq, kind, door, holder, length(sealed) AS sealed FROM records
             WHERE site = $1 AND audience = 'owner' AND kind = 'access.granted' ORDER BY seq LIMIT 1",
            &[&site],
        )
        .await
        .map_err(crate::db::DbError::from)?
        .ok_or_else(|| DemoError::step("a resident's entry", "none stored"))?;
    println!(
        "   record {} {} at {}: audience owner, holder {}, its names sealed to the owner's reading key ({} bytes)",
        row.get::<_, i64>("seq"),
        row.get::<_, String>("kind"),
        row.get::<_, Option<String>>("door").unwrap_or_default(),
        row.get::<_, Option<String>>("holder").unwrap_or_else(|| "(none in clear)".into()),
        row.get::<_, Option<i32>>("sealed").unwrap_or_default(),
    );
    let handed = dir.join("sealed-owner.jsonl");
    let lines = handover::sealed(db, site, "owner", "demo").await?;
    std::fs::write(&handed, lines).map_err(|e| DemoError::io(&handed.display().to_string(), e))?;
    for (who, key) in
        [("the owner", &building.owner_reading_key), ("the municipality", &building.municipality_reading_key)]
    {
        println!(
            "\n== {who} opens them (portvakt-central sealed --site {site} --audience owner | portvakt-admin personal --key …)"
        );
        let said = output(
            &format!("{who} reads the residents' passages"),
            command(&tools.admin).args(["personal", "--key"]).arg(key).arg("--in").arg(&handed),
        )
        .await?;
        let lines: Vec<&str> = said.lines().collect();
        for l in lines.iter().take(4) {
            println!("   {l}");
        }
        if lines.len() > 5 {
            println!("   …");
        }
        if let Some(last) = lines.last().filter(|_| lines.len() > 4) {
            println!("   {last}");
        }
    }
    Ok(())
}

/// The end of the scripted period: 15 days on, retention erases what has had its time
/// (the residents' sealed parts; home care's visits stay five years), and every chain
/// still verifies.
pub async fn erase_after_the_period(db: &tokio_postgres::Client, gateways: &[Gateway]) -> Result<(), DemoError> {
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(15 * 24);
    println!("\n== 15 days later (retention, on a clock moved on): residents' personal parts erased");
    let n = retention::erase(db, &retention::Retention::default(), later).await?;
    println!("   {n} personal part(s) erased; home care's visits stay (the municipality keeps them five years)");
    for g in gateways {
        let report = verify::site(db, &g.site).await?;
        print!("{}", report.render(&g.site));
        if !report.intact() {
            return Err(DemoError::step(&format!("{}'s chain", g.site), "not intact after erasure"));
        }
    }
    Ok(())
}
