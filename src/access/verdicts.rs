//! The gateway's last word on each authority's bundle and revocation list, wherever it
//! came from (the inbox or MQTT): taken in, or refused and why. `status` and the retained
//! `state` carry it, so that an authority's `in-force` and `publish` can say what became
//! of what they sent instead of "not taken in yet". A refused document is named by what
//! it claims to be (its signature may be what failed); a claim of an authority the site
//! does not trust is kept under `unknown`, so the list stays as short as the config.

use jiff::Timestamp;

use crate::credentials::intake::{Accepted, Label};

/// One verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The authority (as the document claims when refused; `unknown` when it names none
    /// the site trusts).
    pub authority: String,
    /// `bundle` or `revocations`.
    pub document: String,
    /// The bundle's version or the list's sequence, when it could be read.
    pub version: Option<u64>,
    /// When it was judged (RFC 3339, milliseconds).
    pub at: String,
    /// Taken in.
    pub accepted: bool,
    /// What was taken in, or why not.
    pub message: String,
    /// Where it came from: `file <name>` or `topic <topic>`.
    pub source: String,
}

/// The newest verdict per authority and document.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    list: Vec<Verdict>,
}

/// The longest message kept (a refusal can list every entry of a large bundle).
const MAX_MESSAGE: usize = 1024;

/// What a verdict is about, as far as it can be told: an accepted document's own
/// authority and version; for a refusal, what the document claims only when its signature
/// proved it (a claim of a forged or unreadable document is `unknown`, so it never takes
/// the place of a trusted authority's word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// The authority, or `unknown`.
    pub authority: String,
    /// `bundle`, `revocations` or `unknown`.
    pub document: &'static str,
    /// Its version or sequence.
    pub version: Option<u64>,
}

impl About {
    /// A taken-in document.
    pub fn accepted(a: &Accepted) -> Self {
        match a {
            Accepted::Bundle { authority, version, .. } => {
                Self { authority: authority.clone(), document: "bundle", version: Some(*version) }
            }
            Accepted::Revocations { authority, sequence, .. } => {
                Self { authority: authority.clone(), document: "revocations", version: Some(*sequence) }
            }
        }
    }

    /// Nobody that can be named.
    pub fn unknown(document: &'static str) -> Self {
        Self { authority: "unknown".to_owned(), document, version: None }
    }

    /// A refused document: its claim when `proven` (signature checked) and the authority is
    /// one the site trusts, else `unknown`.
    pub fn refused(label: Option<&Label>, proven: bool, trusted: impl Fn(&str) -> bool) -> Self {
        match label {
            Some(l) if proven && trusted(&l.authority) => {
                Self { authority: l.authority.clone(), document: l.document, version: l.version }
            }
            Some(l) => Self::unknown(l.document),
            None => Self::unknown("unknown"),
        }
    }
}

impl Verdicts {
    /// Notes a verdict, replacing the earlier one on the same authority's same kind of
    /// document; the message is cut to [`MAX_MESSAGE`] bytes.
    pub fn note(&mut self, about: About, accepted: bool, message: &str, source: String, now: Timestamp) {
        let mut end = message.len().min(MAX_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < message.len() { format!("{}…", &message[..end]) } else { message.to_owned() };
        let verdict = Verdict {
            authority: about.authority,
            document: about.document.to_owned(),
            version: about.version,
            at: now.round(jiff::Unit::Millisecond).unwrap_or(now).to_string(),
            accepted,
            message: cut,
            source,
        };
        self.list.retain(|v| !(v.authority == verdict.authority && v.document == verdict.document));
        self.list.push(verdict);
    }

    /// Every verdict, oldest first.
    pub fn all(&self) -> Vec<Verdict> {
        self.list.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_proven_refusal_replaces_the_authoritys_earlier_word_and_unproven_claims_never_do() {
        let mut v = Verdicts::default();
        let known = |a: &str| a == "owner";
        let ok = Accepted::Bundle { authority: "owner".into(), version: 7, entries: 3 };
        v.note(About::accepted(&ok), true, "bundle of owner version 7", "file a".into(), at("2026-12-07T10:00:00Z"));
        // A forged document claiming the owner's next version: not the owner's word.
        let forged = Label { document: "bundle", authority: "owner".into(), version: Some(8) };
        v.note(
            About::refused(Some(&forged), false, known),
            false,
            "bad_signature",
            "file b".into(),
            at("2026-12-07T10:30:00Z"),
        );
        assert!(v.all().iter().any(|x| x.authority == "owner" && x.accepted), "{:?}", v.all());
        // A signed one refused for its content is.
        v.note(
            About::refused(Some(&forged), true, known),
            false,
            "role_not_granted",
            "topic t".into(),
            at("2026-12-07T11:00:00Z"),
        );
        for n in 0..5 {
            let stranger = Label { document: "bundle", authority: format!("x{n}"), version: None };
            v.note(
                About::refused(Some(&stranger), true, known),
                false,
                "unknown_authority",
                "file x".into(),
                at("2026-12-07T12:00:00Z"),
            );
        }
        let all = v.all();
        assert_eq!(all.len(), 2, "{all:?}");
        let owner = all.iter().find(|x| x.authority == "owner").unwrap();
        assert_eq!((owner.version, owner.accepted, owner.message.as_str()), (Some(8), false, "role_not_granted"));
        assert!(all.iter().any(|x| x.authority == "unknown"));
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let mut v = Verdicts::default();
        v.note(About::unknown("bundle"), false, &"å".repeat(2000), "file".into(), at("2026-12-07T10:00:00Z"));
        let m = &v.all()[0].message;
        assert!(m.len() <= MAX_MESSAGE + "…".len() && m.ends_with('…'));
    }
}
