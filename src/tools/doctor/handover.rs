//! The printable hand-over page: the commissioning record in words for paper — the site,
//! when and with what it was checked, every door's wiring and what a power cut does to
//! it, every check, the device key for the municipality, and lines to sign.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;

use super::{Report, Verdict};

/// Width of the page's rules, for an A4 page in a monospaced font.
const WIDTH: usize = 78;

/// The page, from the doctor's report and the configuration it checked (`None` when the
/// configuration did not load: the page then says so instead of listing doors).
pub fn page(report: &Report, cfg: Option<&Config>) -> String {
    let rule = "=".repeat(WIDTH);
    let thin = "-".repeat(WIDTH);
    let mut out = String::new();
    let _ = writeln!(out, "{rule}\nPORTVAKT HAND-OVER RECORD\n{rule}");
    let (site, tz) = match cfg {
        Some(c) => (format!("{} ({})", c.site.name, c.site.id), c.policy.tz.clone()),
        None => (format!("{} (the configuration did not load)", report.site), jiff::tz::TimeZone::UTC),
    };
    let when = report.at.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z");
    let failed = count(report, Verdict::Failed);
    let warned = count(report, Verdict::Warning);
    let result = match (failed, warned) {
        (0, 0) => format!("all {} checks ok or skipped", report.checks.len()),
        (0, w) => format!("no check failed, {w} warning(s): explain each below"),
        (f, w) => format!("{f} check(s) FAILED, {w} warning(s): NOT READY TO HAND OVER"),
    };
    let _ = writeln!(out, "Site:           {site}");
    let _ = writeln!(out, "Checked:        {when}, portvakt {} (`portvakt doctor`)", report.version);
    let _ = writeln!(out, "Configuration:  {}", report.config);
    let _ = writeln!(out, "Result:         {result}");

    let _ = writeln!(out, "\nDOORS\n{thin}");
    match cfg {
        Some(c) => crate::tools::summary::door_lines(&mut out, c),
        None => out.push_str("(not listed: the configuration has problems, see the checks)\n"),
    }

    let _ = writeln!(out, "\nCHECKS\n{thin}");
    let w = report.checks.iter().map(|c| c.check.chars().count()).max().unwrap_or(0);
    for c in &report.checks {
        let v = c.verdict.word();
        let _ = writeln!(
            out,
            "[{}] {v:<8} {:<w$}  {}",
            if c.verdict == Verdict::Ok { 'x' } else { ' ' },
            c.check,
            c.detail
        );
        if let Some(r) = &c.remedy {
            let _ = writeln!(out, "    {:<8} {:<w$}  -> {r}", "", "");
        }
    }

    let _ = writeln!(out, "\nFOR THE MUNICIPALITY\n{thin}");
    let _ = writeln!(out, "Site id:        {}", cfg.map_or(report.site.as_str(), |c| c.site.id.as_str()));
    let key = report
        .checks
        .iter()
        .find(|c| c.check == "device key" && c.verdict == Verdict::Ok)
        // An ok device-key check's detail begins with the key (store.rs, device_key_check).
        .and_then(|c| c.detail.split_whitespace().next())
        .unwrap_or("(none: see the checks)");
    let _ = writeln!(out, "Device key:     {key}");
    let _ = writeln!(out, "                (the collector checks the audit chain's signed checkpoints with it)");

    let _ = writeln!(out, "\nNOTES (warnings explained, the key safe, who to call)\n{thin}");
    for _ in 0..4 {
        let _ = writeln!(out, "\n{}", "_".repeat(WIDTH));
    }
    let _ = writeln!(out, "\nSIGNED\n{thin}");
    for who in ["Electrician", "Property owner"] {
        let _ = writeln!(out, "\n{who:<15} name ______________________  date __________  signature ______________");
    }
    wrapped(&out)
}

/// Every line folded at a space to fit the page, the rest of it indented.
fn wrapped(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut rest = line;
        let mut indent = "";
        while indent.len() + rest.chars().count() > WIDTH {
            let room = WIDTH - indent.len();
            let cut = rest.char_indices().take_while(|(i, _)| *i <= room).filter(|(_, c)| *c == ' ').last();
            let Some((at, _)) = cut.filter(|(at, _)| *at > 0) else { break };
            let _ = writeln!(out, "{indent}{}", &rest[..at]);
            rest = rest[at..].trim_start();
            indent = "        ";
        }
        let _ = writeln!(out, "{indent}{rest}");
    }
    out
}

fn count(report: &Report, v: Verdict) -> usize {
    report.checks.iter().filter(|c| c.verdict == v).count()
}

/// Where a commissioning record was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The report as JSON.
    pub json: PathBuf,
    /// The printable page.
    pub page: PathBuf,
}

/// Saves the report as a commissioning record in `<state dir>/commissioning/`: the JSON
/// and the printable page beside it, each written to a temporary file, synced, then
/// renamed.
pub fn save(report: &Report, cfg: Option<&Config>, state_dir: &Path) -> std::io::Result<Saved> {
    let dir = state_dir.join("commissioning");
    std::fs::create_dir_all(&dir)?;
    let stem = report.at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    let saved = Saved {
        json: write_synced(&dir, &format!("{stem}.json"), json.as_bytes())?,
        page: write_synced(&dir, &format!("{stem}.txt"), page(report, cfg).as_bytes())?,
    };
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(saved)
}

fn write_synced(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let path = dir.join(name);
    let tmp = dir.join(".record.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_a_space_and_nothing_is_lost() {
        let line = format!("{} {}", "a".repeat(50), "b ".repeat(30).trim_end());
        let folded = wrapped(&line);
        assert!(folded.lines().all(|l| l.chars().count() <= WIDTH), "{folded}");
        let words: Vec<&str> = folded.split_whitespace().collect();
        assert_eq!(words, line.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn the_page_gives_the_device_key_only_from_a_check_that_found_one() {
        let check = |verdict, detail: &str| super::super::Check {
            check: "device key".into(),
            verdict,
            detail: detail.into(),
            remedy: None,
        };
        let report = |c| Report {
            at: jiff::Timestamp::UNIX_EPOCH,
            version: "0".into(),
            config: "c".into(),
            site: "s".into(),
            checks: vec![c],
        };
        let line = |r: &Report| page(r, None).lines().find(|l| l.starts_with("Device key:")).unwrap().to_owned();
        let ok = report(check(Verdict::Ok, "3d51 (made 2026-12-03); it signs the audit checkpoints"));
        assert_eq!(line(&ok), "Device key:     3d51");
        let broken = report(check(Verdict::Warning, "not usable: permission denied"));
        assert_eq!(line(&broken), "Device key:     (none: see the checks)");
    }
}
