//! The trust boundary at ingest: what a gateway sent is checked against what the schema
//! can hold before it joins a batch — no NUL in any text, seq from 1 to 2⁶³−1, a time
//! PostgreSQL can store, each field and the whole message within its size. Whatever fails
//! goes to the quarantine with its reason, never into a batch, so one bad record never
//! holds the fleet. Pure.

use portvakt_wire::event::ReceivedEvent;

/// The largest `events` message Central takes (a gateway's records are a few hundred
/// bytes; its largest, a refused configuration's problems, a few KiB).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The largest `detail` of a record.
pub const MAX_DETAIL: usize = 16 * 1024;
/// The largest site id, kind, door, holder or credential id.
pub const MAX_NAME: usize = 128;
/// Earliest and latest record times Central stores: year 1 and year 9999 (PostgreSQL
/// holds 4713 BC to 294276 AD; a gateway's clock, even at 1970, is well inside).
pub const EARLIEST_MS: i64 = -62_135_596_800_000;
/// See [`EARLIEST_MS`].
pub const LATEST_MS: i64 = 253_402_300_799_999;
/// The largest sealed personal part (a holder and a credential id of at most
/// [`MAX_NAME`] each, sealed, are well under 1 KiB).
pub const MAX_SEALED: usize = 2 * 1024;
/// Unreviewed quarantined messages kept per site, at most; past that they are counted.
pub const MAX_QUARANTINED: usize = 1000;
/// How much of a quarantined message is kept.
pub const KEPT_OF_QUARANTINED: usize = 64 * 1024;

/// Why a message stays out of the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstorable(pub String);

impl std::fmt::Display for Unstorable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn text(what: &str, value: &str, max: usize) -> Result<(), Unstorable> {
    if value.contains('\0') {
        return Err(Unstorable(format!("{what} holds a NUL character")));
    }
    if value.len() > max {
        return Err(Unstorable(format!("{what} is {} bytes, more than {max}", value.len())));
    }
    Ok(())
}

/// Whether the message `payload` of `site`, read as `e`, can be stored as it is.
pub fn check(site: &str, e: &ReceivedEvent, payload: &[u8]) -> Result<(), Unstorable> {
    if payload.len() > MAX_MESSAGE {
        return Err(Unstorable(format!("the message is {} bytes, more than {MAX_MESSAGE}", payload.len())));
    }
    text("the site", site, MAX_NAME)?;
    if e.seq == 0 || i64::try_from(e.seq).is_err() {
        return Err(Unstorable(format!("seq {} is outside 1 to 2^63-1", e.seq)));
    }
    if !(EARLIEST_MS..=LATEST_MS).contains(&e.at_ms) {
        return Err(Unstorable(format!("the time ({} ms after 1970) is outside the years 1 to 9999", e.at_ms)));
    }
    text("the kind", &e.kind, MAX_NAME)?;
    for (what, value) in [("the door", &e.door), ("the audience", &e.audience)] {
        if let Some(v) = value {
            text(what, v, MAX_NAME)?;
        }
    }
    personal(e.holder.as_deref(), e.credential.as_deref())?;
    if let Some(sealed) = e.sealed.as_ref().filter(|s| s.len() > MAX_SEALED) {
        return Err(Unstorable(format!("the sealed personal part is {} bytes, more than {MAX_SEALED}", sealed.len())));
    }
    // The detail is kept as text, byte for byte (what the hash covers): a NUL *spelled*
    // in its JSON (`\u0000`) is storable text; only a raw NUL is not.
    text("the detail", &e.detail, MAX_DETAIL)
}

/// Whether a personal part (as it came in clear, format 1, or as this Central opened it)
/// can be stored.
pub fn personal(holder: Option<&str>, credential: Option<&str>) -> Result<(), Unstorable> {
    for (what, value) in [("the holder", holder), ("the credential", credential)] {
        if let Some(v) = value {
            text(what, v, MAX_NAME)?;
        }
    }
    Ok(())
}

/// Whether a retained `status`, `state` or door state payload can be kept: UTF-8, no NUL,
/// at most [`MAX_MESSAGE`].
pub fn check_observation<'a>(site: &str, payload: &'a [u8]) -> Result<&'a str, Unstorable> {
    if payload.len() > MAX_MESSAGE {
        return Err(Unstorable(format!("the message is {} bytes, more than {MAX_MESSAGE}", payload.len())));
    }
    text("the site", site, MAX_NAME)?;
    let t = std::str::from_utf8(payload).map_err(|e| Unstorable(format!("the message is not UTF-8: {e}")))?;
    text("the message", t, MAX_MESSAGE)?;
    Ok(t)
}

/// Text safe to store whatever it held (a reason echoing a bad value, a site from a
/// topic): NUL replaced, at most `max` bytes on a character boundary.
pub fn storable_text(s: &str, max: usize) -> String {
    let mut out: String = s.replace('\0', "\u{FFFD}");
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Poison = Box<dyn Fn(&mut ReceivedEvent)>;

    fn event() -> ReceivedEvent {
        ReceivedEvent {
            epoch: None,
            format: 1,
            audience: None,
            commitment: None,
            sealed: None,
            seq: 7,
            at_ms: 1_795_000_000_000,
            trusted: true,
            kind: "access.granted".into(),
            door: Some("entrance".into()),
            holder: Some("anna".into()),
            credential: None,
            detail: "{}".into(),
            prev: [0; 32],
            hash: [1; 32],
        }
    }

    #[test]
    fn a_record_the_schema_can_hold_passes_and_each_poison_is_named() {
        assert_eq!(check("storgatan-12", &event(), b"{}"), Ok(()));
        let mut spelled = event();
        spelled.detail = "{\"id\":\"\\u0000\"}".into();
        assert_eq!(check("storgatan-12", &spelled, b"{}"), Ok(()), "a NUL spelled in JSON is storable text");
        let cases: Vec<(Poison, &str)> = vec![
            (Box::new(|e| e.detail = "{\"a\":\"x\0\"}".into()), "NUL"),
            (Box::new(|e| e.holder = Some("an\0na".into())), "the holder holds a NUL"),
            (Box::new(|e| e.seq = 0), "seq 0"),
            (Box::new(|e| e.seq = u64::MAX), "outside 1 to 2^63-1"),
            (Box::new(|e| e.at_ms = -400_000_000_000_000), "years 1 to 9999"),
            (Box::new(|e| e.at_ms = i64::MAX), "years 1 to 9999"),
            (Box::new(|e| e.detail = "x".repeat(MAX_DETAIL + 1)), "the detail is"),
            (Box::new(|e| e.kind = "k".repeat(MAX_NAME + 1)), "the kind is"),
        ];
        for (poison, says) in cases {
            let mut e = event();
            poison(&mut e);
            let why = check("storgatan-12", &e, b"{}").unwrap_err().0;
            assert!(why.contains(says), "{why} should say {says}");
        }
        assert!(check("site\0", &event(), b"{}").is_err());
        assert!(check("storgatan-12", &event(), &vec![b' '; MAX_MESSAGE + 1]).is_err());
    }

    #[test]
    fn text_kept_about_a_bad_message_is_itself_storable() {
        assert_eq!(storable_text("a\0b", 10), "a\u{FFFD}b");
        assert_eq!(storable_text("åäö", 3), "å");
    }
}
