//! Whether a bundle's lifetime leaves room for the authority's re-issue cadence: one that
//! ends before the next re-issue — or before the one after, if one is late or missed —
//! locks its holders out (the gateway refuses an expired bundle's credentials once the
//! authority's `expiry_grace` is over). Pure.

/// The gateway's default warning lead (`credentials.expiry_warning_days`).
const GATEWAY_WARNING_DAYS: i64 = 7;

/// Warnings for a bundle valid `valid_days` that the authority re-issues every
/// `reissue_every_days`.
pub fn warnings(valid_days: i64, reissue_every_days: i64) -> Vec<String> {
    let mut out = Vec::new();
    if valid_days <= reissue_every_days {
        out.push(format!(
            "the bundle ends after {valid_days} day(s) but is re-issued every {reissue_every_days}: it expires \
             before the next one comes; give --valid-days at least {}",
            reissue_every_days * 2
        ));
    } else if valid_days < reissue_every_days * 2 {
        out.push(format!(
            "the bundle ends after {valid_days} day(s); with a re-issue every {reissue_every_days}, one late or \
             missed re-issue lets it expire; give --valid-days at least {}",
            reissue_every_days * 2
        ));
    }
    if valid_days <= GATEWAY_WARNING_DAYS {
        out.push(format!(
            "a bundle of {valid_days} day(s) is within the gateway's expiry warning ({GATEWAY_WARNING_DAYS} days by \
             default) from the start: it is reported as expiring at once"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_that_a_late_reissue_outlives_is_warned_about() {
        assert!(warnings(30, 7).is_empty());
        assert_eq!(warnings(10, 7).len(), 1);
        assert!(warnings(7, 7)[0].contains("expires before the next one comes"));
        assert_eq!(warnings(7, 7).len(), 2, "also within the gateway's warning lead");
        assert!(warnings(14, 7).is_empty());
    }
}
