//! Bookings, one at a time: a slot for a holder or for every member of a group (an
//! apartment), at a door of a site, checked against the workspace; cancelling one.
//! Gateways take bookings from the owner only.

use super::Workspace;
use super::edit::EditError;
use super::files::BookingSpec;
use crate::tools::time_input::parse_time;

fn invalid(what: impl Into<String>, message: impl Into<String>) -> EditError {
    EditError::Invalid { what: what.into(), message: message.into() }
}

impl Workspace {
    /// Books a slot that has not ended at `now` (a booking already over would never
    /// reach the gateway: most likely a mistyped date).
    pub fn booking_add_coming(&mut self, b: BookingSpec, now: jiff::Timestamp) -> Result<String, EditError> {
        let tz = self.timezone();
        if let Ok(end) = parse_time(&b.end, &tz)
            && end <= now
        {
            return Err(invalid("--end", format!("{} is over already: nothing would be sent (check the date)", b.end)));
        }
        self.booking_add(b)
    }

    /// Books a slot (owner only).
    pub fn booking_add(&mut self, b: BookingSpec) -> Result<String, EditError> {
        if !self.is_owner() {
            return Err(invalid("booking", "gateways take bookings from the owner only"));
        }
        let site = self.site(&b.site)?.clone();
        if !site.doors.is_empty() && !site.doors.contains(&b.door) {
            return Err(invalid(
                format!("door \"{}\"", b.door),
                format!("{} has no such door (its doors: {})", b.site, site.doors.join(", ")),
            ));
        }
        match (&b.holder, &b.group) {
            (Some(h), None) => {
                self.holder_sites(h)?;
            }
            (None, Some(g)) => self.check_group(Some(g))?,
            _ => return Err(invalid("booking", "is for a holder (--holder) or for a group (--group), one of them")),
        }
        let tz = self.timezone();
        let start = parse_time(&b.start, &tz).map_err(|e| invalid("--start", e))?;
        let end = parse_time(&b.end, &tz).map_err(|e| invalid("--end", e))?;
        if end <= start {
            return Err(invalid("--end", "is not after --start"));
        }
        if let Some(uid) = &b.uid {
            self.bookings.bookings.retain(|x| x.uid.as_ref() != Some(uid));
        }
        if self.bookings.bookings.iter().any(|x| same_slot(x, &b)) {
            return Err(EditError::Exists { what: "booking", id: describe_booking(&b), place: String::new() });
        }
        let said = format!("booking {}", describe_booking(&b));
        self.bookings.bookings.push(b);
        self.bookings.bookings.sort();
        Ok(said)
    }

    /// Cancels the booking at `door` of `site` starting at `start` (of `who`, when given).
    pub fn booking_remove(
        &mut self,
        site: &str,
        door: &str,
        start: &str,
        who: Option<&str>,
    ) -> Result<String, EditError> {
        let tz = self.timezone();
        let at = parse_time(start, &tz).map_err(|e| invalid("--start", e))?;
        let matches = |b: &BookingSpec| {
            b.site == site
                && b.door == door
                && parse_time(&b.start, &tz).is_ok_and(|s| s == at)
                && who.is_none_or(|w| b.holder.as_deref() == Some(w) || b.group.as_deref() == Some(w))
        };
        let Some(pos) = self.bookings.bookings.iter().position(matches) else {
            return Err(EditError::Unknown {
                what: "booking",
                id: format!("{door} at {site} starting {start}"),
                known: String::new(),
            });
        };
        let b = self.bookings.bookings.remove(pos);
        Ok(format!("booking {} cancelled", describe_booking(&b)))
    }
}

fn same_slot(a: &BookingSpec, b: &BookingSpec) -> bool {
    a.site == b.site && a.door == b.door && a.start == b.start && a.holder == b.holder && a.group == b.group
}

/// `laundry at storgatan-12 2026-12-10T07:00..2026-12-10T10:00 for anna`.
pub fn describe_booking(b: &BookingSpec) -> String {
    let who = b.holder.clone().or_else(|| b.group.clone()).unwrap_or_default();
    format!("{} at {} {}..{} for {who}", b.door, b.site, b.start, b.end)
}
