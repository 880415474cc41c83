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
    /// Over, but its credentials are still in use for this long (the authority's
    /// `expiry_grace`).
    Grace(SignedDuration),
    /// Over, grace and all: its credentials are refused.
    Expired,
}

/// Judges `not_after` at `now` with a warning `lead` and the authority's `grace`.
pub fn expiry(not_after: Timestamp, now: Timestamp, lead: SignedDuration, grace: SignedDuration) -> Expiry {
    let left = not_after.duration_since(now);
    if left <= SignedDuration::ZERO {
        let grace_left = left + grace;
        if grace_left > SignedDuration::ZERO { Expiry::Grace(grace_left) } else { Expiry::Expired }
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

    /// Whether it is over (in grace or refused).
    pub fn is_over(self) -> bool {
        matches!(self, Self::Grace(_) | Self::Expired)
    }

    /// For people: "EXPIRES in 3 d 4 h", "EXPIRED: …".
    pub fn words(self) -> String {
        match self {
            Self::Fine => String::new(),
            Self::Expired => "EXPIRED: its credentials are refused".into(),
            Self::Soon(left) => format!("EXPIRES in {}", span(left)),
            Self::Grace(left) => {
                format!("EXPIRED: its credentials stay in use {} more (expiry_grace), then are refused", span(left))
            }
        }
    }
}

fn span(left: SignedDuration) -> String {
    let hours = left.as_hours();
    if hours >= 24 {
        format!("{} d {} h", hours / 24, hours % 24)
    } else {
        format!("{} h {} min", hours, left.as_mins() % 60)
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
        let none = SignedDuration::ZERO;
        assert_eq!(expiry(end, end - day * 8, day * 7, none), Expiry::Fine);
        assert_eq!(expiry(end, end - day * 3, day * 7, none), Expiry::Soon(day * 3));
        assert_eq!(expiry(end, end, day * 7, none), Expiry::Expired);
        assert_eq!(expiry(end, end + day * 2, day * 7, day * 7), Expiry::Grace(day * 5));
        assert_eq!(expiry(end, end + day * 7, day * 7, day * 7), Expiry::Expired);
        assert!(Expiry::Grace(day).is_over() && !Expiry::Soon(day).is_over());
        assert_eq!(Expiry::Soon(day * 3 + SignedDuration::from_hours(4)).words(), "EXPIRES in 3 d 4 h");
        assert!(!Expiry::Fine.warns() && Expiry::Expired.warns());
    }
}
