//! Expiry ahead of time: when a bundle's end is near enough to warn its authority, so an
//! owner or the municipality sees it before residents or staff are refused. Pure: `now`
//! is passed in.

use jiff::{SignedDuration, Timestamp};

/// How a document's end stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Further away than the warning lead.
    Fine,
    /// Within the lead: it ends in this long.
    Soon(SignedDuration),
    /// Already over.
    Expired,
}

/// Judges `not_after` at `now` with a warning `lead`.
pub fn expiry(not_after: Timestamp, now: Timestamp, lead: SignedDuration) -> Expiry {
    let left = not_after.duration_since(now);
    if left <= SignedDuration::ZERO {
        Expiry::Expired
    } else if left <= lead {
        Expiry::Soon(left)
    } else {
        Expiry::Fine
    }
}

impl Expiry {
    /// Whether someone should be told.
    pub fn warns(self) -> bool {
        self != Self::Fine
    }

    /// For people: "expires in 3 d 4 h", "EXPIRED".
    pub fn words(self) -> String {
        match self {
            Self::Fine => String::new(),
            Self::Expired => "EXPIRED: its credentials are refused".into(),
            Self::Soon(left) => {
                let hours = left.as_hours();
                if hours >= 24 {
                    format!("EXPIRES in {} d {} h", hours / 24, hours % 24)
                } else {
                    format!("EXPIRES in {} h {} min", hours, left.as_mins() % 60)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_bundle_warns_within_the_lead_and_says_when_it_has_expired() {
        let day = SignedDuration::from_hours(24);
        let end = ts(1_000_000);
        assert_eq!(expiry(end, end - day * 8, day * 7), Expiry::Fine);
        assert_eq!(expiry(end, end - day * 3, day * 7), Expiry::Soon(day * 3));
        assert_eq!(expiry(end, end, day * 7), Expiry::Expired);
        assert_eq!(Expiry::Soon(day * 3 + SignedDuration::from_hours(4)).words(), "EXPIRES in 3 d 4 h");
        assert!(!Expiry::Fine.warns() && Expiry::Expired.warns());
    }
}
