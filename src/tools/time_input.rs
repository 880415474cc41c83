//! Reading times that people type: RFC 3339 with an offset, or a local civil time in the
//! site's zone (`2026-11-24T07:00`, `2026-11-24 07:00`). A local time that falls in the
//! DST gap moves forward; one in the repeated hour takes the earlier instant.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Parses `s` as an instant, reading zone-less times in `tz`.
pub fn parse_time(s: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let dt: DateTime = s
        .replacen(' ', "T", 1)
        .parse()
        .map_err(|_| format!("\"{s}\" is not a time; write 2026-11-24T07:00 (site time) or 2026-11-24T06:00:00Z"))?;
    tz.to_ambiguous_zoned(dt)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| format!("\"{s}\" cannot be placed in the site's time zone: {e}"))
}

/// Formats an instant as local site time, e.g. `2026-11-24 07:00 CET`.
pub fn local(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sthlm() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn reads_local_and_absolute_times() {
        assert_eq!(parse_time("2026-11-24T07:00", &sthlm()).map(|t| t.to_string()), Ok("2026-11-24T06:00:00Z".into()));
        assert_eq!(parse_time("2026-07-01 07:00", &sthlm()).map(|t| t.to_string()), Ok("2026-07-01T05:00:00Z".into()));
        assert_eq!(
            parse_time("2026-11-24T06:00:00Z", &sthlm()).map(|t| t.to_string()),
            Ok("2026-11-24T06:00:00Z".into())
        );
        assert!(parse_time("tomorrow", &sthlm()).is_err());
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward() {
        assert_eq!(parse_time("2026-03-29T02:30", &sthlm()).map(|t| t.to_string()), Ok("2026-03-29T01:30:00Z".into()));
    }
}
