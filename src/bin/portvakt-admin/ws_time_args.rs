//! The workspace's commands about time (clap): bookings, the owner's hours, and dates
//! closed or shortened. Only the owner sends them.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum BookingCommand {
    /// Book a slot for a holder or a whole apartment.
    #[command(
        after_help = "Example:\n  portvakt-admin booking add --door laundry --group lgh-1101 --start 2026-12-10T07:00 --end 2026-12-10T10:00"
    )]
    Add {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The door.
        #[arg(long)]
        door: String,
        /// Who booked.
        #[arg(long)]
        holder: Option<String>,
        /// Or which apartment (every member).
        #[arg(long)]
        group: Option<String>,
        /// Start, local time.
        #[arg(long)]
        start: String,
        /// End.
        #[arg(long)]
        end: String,
    },
    /// Cancel a booking.
    Remove {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The door.
        #[arg(long)]
        door: String,
        /// Its start.
        #[arg(long)]
        start: String,
        /// Only the booking of this holder or group.
        #[arg(long)]
        by: Option<String>,
    },
    /// Take bookings from an iCalendar export (each event's SUMMARY names the holder or apartment).
    Import {
        /// The `.ics` file.
        #[arg(long)]
        ics: PathBuf,
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The door the bookings are for.
        #[arg(long)]
        door: String,
        /// Also drop earlier imported bookings still to come that the file no longer has.
        #[arg(long)]
        replace: bool,
    },
    /// Every booking still to come.
    List,
}

#[derive(Subcommand)]
pub(crate) enum HoursCommand {
    /// Every schedule of the site as it will be in force, and whose it is.
    Show {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
    },
    /// The door code's hours.
    #[command(
        name = "door-code",
        after_help = "Example:\n  portvakt-admin hours door-code --window \"mon-sun 07:00-21:00\""
    )]
    DoorCode {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// A window, `mon-fri 07:00-21:00` (repeat for more).
        #[arg(long = "window", required = true)]
        windows: Vec<String>,
        /// On holidays: `normal`, `as_sunday` or `closed`.
        #[arg(long)]
        on_holiday: Option<String>,
    },
    /// A door's free-passage hours.
    #[command(name = "free-passage")]
    FreePassage {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The door.
        #[arg(long)]
        door: String,
        /// A window (repeat for more).
        #[arg(long = "window", required_unless_present = "off")]
        windows: Vec<String>,
        /// No free passage at this door.
        #[arg(long)]
        off: bool,
    },
    /// Any schedule's week windows or holiday rule (e.g. the laundry's hours).
    #[command(
        after_help = "Example:\n  portvakt-admin hours schedule laundry-hours --window \"mon-sat 07:00-21:00\" --window \"sun 10:00-18:00\""
    )]
    Schedule {
        /// The schedule.
        name: String,
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// A window (repeat for more; none: keep them).
        #[arg(long = "window")]
        windows: Vec<String>,
        /// On holidays: `normal`, `as_sunday` or `closed`.
        #[arg(long)]
        on_holiday: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum HolidayCommand {
    /// Close schedules on a date, or open them only for some hours.
    #[command(
        after_help = "Examples:\n  portvakt-admin holiday add --date 2026-12-26 --schedule laundry-hours\n  portvakt-admin holiday add --date 2026-12-31 --schedule laundry-hours --open 08:00-14:00"
    )]
    Add {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The date.
        #[arg(long)]
        date: String,
        /// The schedule it changes (repeat for more).
        #[arg(long = "schedule", required = true)]
        schedules: Vec<String>,
        /// Open only in these hours, `08:00-14:00` (repeat; none: closed all day).
        #[arg(long)]
        open: Vec<String>,
    },
    /// Make a date as usual again.
    Remove {
        /// The site (default: the only one).
        #[arg(long)]
        site: Option<String>,
        /// The date.
        #[arg(long)]
        date: String,
        /// Only this schedule (repeat; none: every one).
        #[arg(long = "schedule")]
        schedules: Vec<String>,
    },
}
