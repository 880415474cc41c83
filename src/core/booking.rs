//! Laundry-room bookings: a holder may enter a door during a booked interval, widened by
//! the door's grace before and after. Fed by the owner's booking system.

use jiff::{SignedDuration, Timestamp};

use super::ids::HolderId;
use super::model::DoorIdx;

/// One booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// Who booked.
    pub holder: HolderId,
    /// Which door (the laundry room).
    pub door: DoorIdx,
    /// The slot's start.
    pub start: Timestamp,
    /// The slot's end (exclusive).
    pub end: Timestamp,
}

/// All current bookings.
#[derive(Debug, Clone, Default)]
pub struct Bookings {
    list: Vec<Booking>,
}

impl Bookings {
    /// Builds from a list, in any order.
    pub fn new(mut list: Vec<Booking>) -> Self {
        list.sort_by_key(|b| (b.door, b.start));
        Self { list }
    }

    /// The booking that lets `holder` through `door` at `now`, if any.
    pub fn covering(
        &self,
        holder: &HolderId,
        door: DoorIdx,
        now: Timestamp,
        before: SignedDuration,
        after: SignedDuration,
    ) -> Option<&Booking> {
        let start = self.list.partition_point(|b| b.door < door);
        self.list[start..].iter().take_while(|b| b.door == door).find(|b| {
            &b.holder == holder
                && b.start.saturating_sub(before).unwrap_or(b.start) <= now
                && now < b.end.saturating_add(after).unwrap_or(b.end)
        })
    }

    /// Every booking.
    pub fn all(&self) -> &[Booking] {
        &self.list
    }
}
