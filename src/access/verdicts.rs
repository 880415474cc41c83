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

impl Verdicts {
    /// Notes a verdict on `label`'s document (`accepted`: what was taken in), replacing
    /// the earlier one on the same authority's same kind of document. `trusted` says
    /// whether an authority id is one of the site's.
    #[allow(clippy::too_many_arguments)]
    pub fn note(
        &mut self,
        label: Option<&Label>,
        accepted: Option<&Accepted>,
        message: String,
        source: String,
        now: Timestamp,
        trusted: impl Fn(&str) -> bool,
    ) {
        let (authority, document, version) = match (accepted, label) {
            (Some(Accepted::Bundle { authority, version, .. }), _) => (authority.clone(), "bundle", Some(*version)),
            (Some(Accepted::Revocations { authority, sequence, .. }), _) => {
                (authority.clone(), "revocations", Some(*sequence))
            }
            (None, Some(l)) => (l.authority.clone(), l.document, l.version),
            (None, None) => ("unknown".to_owned(), "unknown", None),
        };
        let authority = if trusted(&authority) { authority } else { "unknown".to_owned() };
        let verdict = Verdict {
            authority,
            document: document.to_owned(),
            version,
            at: now.round(jiff::Unit::Millisecond).unwrap_or(now).to_string(),
            accepted: accepted.is_some(),
            message,
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
    fn a_refusal_replaces_the_earlier_word_on_the_same_authoritys_bundle_and_strangers_share_one_slot() {
        let mut v = Verdicts::default();
        let known = |a: &str| a == "owner";
        let ok = Accepted::Bundle { authority: "owner".into(), version: 7, entries: 3 };
        v.note(
            None,
            Some(&ok),
            "bundle of owner version 7".into(),
            "file a.pvkt".into(),
            at("2026-12-07T10:00:00Z"),
            known,
        );
        let label = Label { document: "bundle", authority: "owner".into(), version: Some(8) };
        v.note(Some(&label), None, "role_not_granted".into(), "topic t".into(), at("2026-12-07T11:00:00Z"), known);
        for n in 0..5 {
            let stranger = Label { document: "bundle", authority: format!("x{n}"), version: None };
            v.note(
                Some(&stranger),
                None,
                "unknown_authority".into(),
                "file x".into(),
                at("2026-12-07T12:00:00Z"),
                known,
            );
        }
        let all = v.all();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!((all[0].authority.as_str(), all[0].version, all[0].accepted), ("owner", Some(8), false));
        assert_eq!(all[0].message, "role_not_granted");
        assert_eq!(all[1].authority, "unknown");
    }
}
