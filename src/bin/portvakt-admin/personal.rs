//! `portvakt-admin personal`: an authority reads its own records' personal parts — who
//! came in — opening what was sealed to its reading key. The records come on standard
//! input as JSON: lines of `events` messages, of `portvakt-central sealed`, or an
//! `audit.query` reply. What does not open (another audience's, altered, erased) is said
//! so, never guessed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use portvakt::core::hex;
use portvakt::credentials::keys;
use serde_json::Value;

/// Opens the parts of the records in the file `input`, or on standard input.
pub(crate) fn from(key: &Path, site: Option<&str>, tz: &str, input: Option<&Path>) -> anyhow::Result<String> {
    match input {
        None => personal(key, site, tz, &mut std::io::stdin()),
        Some(path) => {
            let mut file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
            personal(key, site, tz, &mut file)
        }
    }
}

/// Opens the parts of the records on `input` with the reading key at `key`; `site` for
/// records that do not name theirs; times in `tz`.
pub(crate) fn personal(
    key: &Path,
    site: Option<&str>,
    tz: &str,
    input: &mut dyn std::io::Read,
) -> anyhow::Result<String> {
    let private = keys::read_private_seed(key)?;
    if portvakt_wire::personal::reading_public(&private).is_none() {
        anyhow::bail!("{}: not a reading key (portvakt-admin keygen --reading)", key.display());
    }
    let tz = jiff::tz::TimeZone::get(tz).map_err(|_| anyhow::anyhow!("--timezone: \"{tz}\" is not an IANA zone"))?;
    let mut text = String::new();
    input.read_to_string(&mut text).context("reading the records from standard input")?;
    let records = records_in(&text)?;
    let mut out =
        format!("{:<16} {:>7}  {:<19} {:<10} {:<20} {}\n", "site", "seq", "time", "door", "holder", "credential");
    let (mut opened, mut not) = (0, 0);
    for r in &records {
        let Some(site) = r["site"].as_str().or(site) else {
            anyhow::bail!("record {}: it names no site; give --site", r["seq"]);
        };
        // A whole events message is checked against its own hash, so its time, door and
        // commitment are what the gateway chained; a bare line is shown as it says.
        let checked = portvakt_wire::event::ReceivedEvent::parse(r.to_string().as_bytes()).ok();
        let seq = r["seq"].as_u64().unwrap_or(0);
        let at = checked.as_ref().and_then(|e| jiff::Timestamp::from_millisecond(e.at_ms).ok());
        let at = at.or_else(|| r["at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()));
        let mut when =
            at.map_or_else(|| "-".into(), |t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string());
        if checked.is_none() {
            when.push_str(" (not checked)");
        }
        let door = r["door"].as_str().unwrap_or("-");
        let commitment =
            checked.as_ref().and_then(|e| e.commitment).or_else(|| r["commitment"].as_str().and_then(hex::decode32));
        let part = match (commitment, r["personal"].as_str().and_then(hex::decode)) {
            (Some(c), Some(sealed)) => {
                portvakt_wire::personal::open(&private, site, seq, &c, &sealed).map_err(|e| e.to_string())
            }
            (Some(_), None) => Err("its personal part did not come (erased, or sealed to no key)".into()),
            _ => continue, // no personal part: nobody to name
        };
        match part {
            Ok(p) => {
                opened += 1;
                let (h, c) = (p.holder.as_deref().unwrap_or("-"), p.credential.as_deref().unwrap_or("-"));
                let _ = writeln!(out, "{site:<16} {seq:>7}  {when:<19} {door:<10} {h:<20} {c}");
            }
            Err(why) => {
                not += 1;
                let _ = writeln!(out, "{site:<16} {seq:>7}  {when:<19} {door:<10} ({why})");
            }
        }
    }
    let _ = writeln!(out, "{opened} opened with {}, {not} not", key.display());
    Ok(out)
}

/// The records in `text`: JSON lines, or one document holding `records` (an `audit.query`
/// reply, whole or its `result`).
fn records_in(text: &str) -> anyhow::Result<Vec<Value>> {
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        let list = doc.pointer("/result/records").or_else(|| doc.get("records")).cloned();
        if let Some(Value::Array(list)) = list {
            return Ok(list);
        }
        if doc.is_object() {
            return Ok(vec![doc]);
        }
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("standard input, line {}: not a JSON record", i + 1))
        })
        .collect()
}
