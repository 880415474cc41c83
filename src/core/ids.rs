//! Identifier newtypes for the things an installer or authority names: sites, doors,
//! roles, schedules, holders, credentials and authorities.
//!
//! Every id is a short lower-case slug (`[a-z0-9_-]`, 1 to 64 characters), so it is safe
//! in MQTT topics, file names and log lines without escaping. Ids are `SmolStr`s: up to 23
//! bytes inline, so 100 000 credentials cost no heap allocation per id.

use std::fmt;

use smol_str::SmolStr;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("an id cannot be empty")]
    Empty,
    /// The string is longer than [`MAX_ID_LEN`].
    #[error("\"{0}\" is longer than 64 characters")]
    TooLong(String),
    /// The string has a character outside `[a-z0-9_-]`.
    #[error("\"{id}\" has the character {ch:?}; ids use only a-z, 0-9, '-' and '_'")]
    BadChar {
        /// The offending id.
        id: String,
        /// The first character that is not allowed.
        ch: char,
    },
}

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 64;

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(s.to_owned()));
    }
    if let Some(ch) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')) {
        return Err(IdError::BadChar { id: s.to_owned(), ch });
    }
    Ok(())
}

/// Whether `s` is a valid id (for names kept as plain text, like a bus's).
pub fn valid(s: &str) -> Result<(), IdError> {
    check_id(s)
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(SmolStr);

        impl $name {
            /// Checks `s` and wraps it (ids up to 23 bytes are stored inline, no heap).
            pub fn new(s: impl AsRef<str>) -> Result<Self, IdError> {
                let s = s.as_ref();
                check_id(s)?;
                Ok(Self(SmolStr::new(s)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

define_id!(
    /// A gateway's site (one building entrance), as used in MQTT topics.
    SiteId
);
define_id!(
    /// A door of the building.
    DoorId
);
define_id!(
    /// A role such as `resident` or `home_care`.
    RoleId
);
define_id!(
    /// A named schedule.
    ScheduleId
);
define_id!(
    /// The person (or company account) a credential belongs to.
    HolderId
);
define_id!(
    /// One credential (a PIN, a tag or a phone key).
    CredentialId
);
define_id!(
    /// A signing authority (property owner, municipality, contractor).
    AuthorityId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lower_case_slugs() {
        assert_eq!(DoorId::new("rubbish-room_2").map(|d| d.to_string()), Ok("rubbish-room_2".into()));
    }

    #[test]
    fn rejects_empty_upper_case_spaces_and_long_ids() {
        assert_eq!(DoorId::new(""), Err(IdError::Empty));
        assert!(matches!(DoorId::new("Entrance"), Err(IdError::BadChar { ch: 'E', .. })));
        assert!(matches!(DoorId::new("front door"), Err(IdError::BadChar { ch: ' ', .. })));
        assert!(matches!(DoorId::new("x".repeat(65)), Err(IdError::TooLong(_))));
    }
}
