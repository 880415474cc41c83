//! The workspace's commands and options (clap): the verbs that change one thing, and
//! diff, publish, renew and in-force. Every one works on the workspace folder given by
//! `--workspace` (or `PORTVAKT_WORKSPACE`, or the current folder).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ws_time_args::{BookingCommand, HolidayCommand, HoursCommand};

/// The workspace's verbs.
#[derive(Subcommand)]
pub(crate) enum WsCommand {
    /// Make a workspace in the folder: the authority, its class and its key.
    #[command(
        after_help = "Example:\n  portvakt-admin --workspace eken init --authority owner --class owner --key /secure/owner.key"
    )]
    Init {
        /// The authority's id, as in the gateways' `[[authorities]]`.
        #[arg(long)]
        authority: String,
        /// `owner`, `municipality` or `contractor`.
        #[arg(long)]
        class: String,
        /// The authority's private key (made with `keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The zone local times are written in.
        #[arg(long, default_value = "Europe/Stockholm")]
        timezone: String,
        /// Days each bundle stays valid.
        #[arg(long, default_value_t = 30)]
        valid_days: i64,
        /// How often bundles are re-issued (`renew`), in days.
        #[arg(long, default_value_t = 7)]
        reissue_every_days: i64,
    },
    /// A site: add one, or set its key, doors, inbox or broker.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Holders: residents, staff, caretakers.
    #[command(subcommand)]
    Holder(HolderCommand),
    /// A holder's tags, PINs and phone keys.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Teams (staff) and apartments (residents): doors given once for all members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Laundry bookings (owner only).
    #[command(subcommand)]
    Booking(BookingCommand),
    /// Holders and their credentials from a CSV list (`id,holder,role,kind,secret,doors`…).
    Import {
        /// The CSV file (`,` or `;` between columns).
        #[arg(long)]
        csv: PathBuf,
        /// The site the list is for (default: the only one).
        #[arg(long)]
        site: Option<String>,
    },
    /// The owner's hours: door code, free passage, any schedule.
    #[command(subcommand)]
    Hours(HoursCommand),
    /// Dates that close a schedule or open it only for some hours.
    #[command(subcommand)]
    Holiday(HolidayCommand),
    /// What the next bundle would change against the last one issued.
    Diff {
        /// Only this site (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
    /// Build each site's next bundle from the whole workspace, show what changes, sign it
    /// and deliver it (with the revocation list when it changed).
    #[command(
        after_help = "Examples:\n  portvakt-admin publish\n  portvakt-admin publish --site storgatan-12 --out /media/usb"
    )]
    Publish(PublishArgs),
    /// Re-issue every site whose last bundle is older than `reissue_every_days` (from a
    /// timer), refusing a change that looks like a mistake.
    Renew {
        /// Deliver to this folder instead of each site's inbox or broker.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// What a gateway has in force against the workspace.
    #[command(
        name = "in-force",
        after_help = "Examples:\n  ssh pi@storgatan-12 portvakt status --json | portvakt-admin in-force --status -\n  portvakt-admin in-force --site storgatan-12 --mqtt"
    )]
    InForce {
        /// A `portvakt status --json` report (`-`: standard input).
        #[arg(long)]
        status: Option<PathBuf>,
        /// Read the site's retained `state` from its broker instead.
        #[arg(long)]
        mqtt: bool,
        /// The site (with --mqtt; default: the only one).
        #[arg(long)]
        site: Option<String>,
    },
}

#[derive(Args)]
#[allow(clippy::struct_excessive_bools, reason = "each is a command-line flag")]
pub(crate) struct PublishArgs {
    /// Only this site (default: every site).
    #[arg(long)]
    pub(crate) site: Option<String>,
    /// Re-issue even when nothing changed (a new expiry).
    #[arg(long)]
    pub(crate) renew: bool,
    /// Publish a change that looks like a mistake (most holders, every booking or the
    /// owner's hours removed).
    #[arg(long)]
    pub(crate) allow_large_change: bool,
    /// Publish bookings that look like mistakes (two apartments in one slot, a booking
    /// the door's hours close for all of it, one nobody can use any more).
    #[arg(long)]
    pub(crate) accept_warnings: bool,
    /// Replace a bundle of this authority that this workspace did not issue (another copy
    /// of the workspace, or another tool), whose changes would be lost.
    #[arg(long)]
    pub(crate) replace_other_issuer: bool,
    /// Seconds to wait for the gateway's verdict when delivering over MQTT (0: do not wait).
    #[arg(long, default_value_t = 20)]
    pub(crate) wait: u64,
    /// Deliver to this folder instead of each site's inbox or broker.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum SiteCommand {
    /// Add a site, or change its settings; `site refresh` reads its config again after the
    /// owner changed it (doors, roles, rules, holidays, and what the owner granted you).
    #[command(
        visible_alias = "refresh",
        after_help = "Examples:\n  portvakt-admin site add storgatan-12 --site-key credential-hash.key --config portvakt.toml --inbox /mnt/pv/inbox\n  portvakt-admin site refresh storgatan-12 --config portvakt.toml"
    )]
    Add {
        /// The site's id.
        id: String,
        /// The site's credential key (shared with the site), to hash PINs and tags.
        #[arg(long)]
        site_key: Option<PathBuf>,
        /// The gateway's config: its doors, roles, rules, holidays and schedules, and what
        /// the owner granted this authority there, are imported.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The gateway's inbox folder, where `publish` drops bundles.
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// The broker `publish` sends bundles to, retained (`mqtts://host:8883`).
        #[arg(long)]
        broker: Option<String>,
        /// The broker's CA certificate(s), PEM.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// The authority's client certificate, PEM.
        #[arg(long)]
        cert_file: Option<PathBuf>,
        /// Its private key, PEM.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Every site with its doors, delivery and last issued version.
    List,
}

#[derive(Subcommand)]
pub(crate) enum HolderCommand {
    /// Add a holder (then give them a credential).
    #[command(
        after_help = "Examples:\n  portvakt-admin holder add maja-lgh1302 --role resident --group lgh-1302\n  portvakt-admin holder add --name \"Åsa Öberg\" --role resident --group lgh-1101   (id asa-oberg)\n  portvakt-admin holder add erik --role property_staff --doors entrance,rubbish,laundry"
    )]
    Add {
        /// The holder's id: `a-z 0-9 - _`, at most 64 (made from --name when left out).
        id: Option<String>,
        /// Their name as people write it (`"Åsa Öberg"`).
        #[arg(long)]
        name: Option<String>,
        /// Their role.
        #[arg(long)]
        role: String,
        /// Their team or apartment.
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        doors: SiteDoors,
        /// An extra schedule their credentials are limited to.
        #[arg(long)]
        schedule: Option<String>,
        /// Not valid before (local time, `2026-12-01T07:00`).
        #[arg(long)]
        valid_from: Option<String>,
        /// Not valid from then on.
        #[arg(long)]
        valid_until: Option<String>,
    },
    /// Change a holder: role, team, own doors, validity.
    #[command(
        after_help = "Examples:\n  portvakt-admin holder change kalle --group team-soder     (moves kalle to another team)\n  portvakt-admin holder change vikarie-1 --valid-until 2027-01-31T22:00"
    )]
    Change {
        /// The holder's id.
        id: String,
        /// A new role.
        #[arg(long)]
        role: Option<String>,
        /// Move to this team or apartment.
        #[arg(long, conflicts_with = "no_group")]
        group: Option<String>,
        /// Leave their team or apartment.
        #[arg(long)]
        no_group: bool,
        #[command(flatten)]
        doors: SiteDoors,
        /// A new end of validity (`none`: no end).
        #[arg(long)]
        valid_until: Option<String>,
    },
    /// Remove a holder with their credentials and bookings.
    Remove {
        /// The holder's id.
        id: String,
        /// Also revoke their credentials at once (a lost phone, someone who must not get in).
        #[arg(long)]
        revoke: bool,
    },
    /// Every holder with their group, doors and credentials.
    List,
}

/// Own doors at one site.
#[derive(Args)]
pub(crate) struct SiteDoors {
    /// The site of `--doors` (default: the only one).
    #[arg(long)]
    pub(crate) site: Option<String>,
    /// Doors there, separated by `,` (empty: none).
    #[arg(long)]
    pub(crate) doors: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum CredentialCommand {
    /// Give a holder a tag, a PIN or a phone key.
    #[command(
        after_help = "Examples:\n  portvakt-admin credential add --holder maja-lgh1302 --id maja-tag --tag 04:5B:22:C1\n  echo 2468 | portvakt-admin credential add --holder maja-lgh1302 --id maja-pin --pin - --doors entrance\n  portvakt-admin credential add --holder ny-personal --id ny-telefon --phone-key <64 hex>"
    )]
    Add {
        /// The holder.
        #[arg(long)]
        holder: String,
        /// The credential's id.
        #[arg(long)]
        id: String,
        /// A tag's UID.
        #[arg(long, group = "value")]
        tag: Option<String>,
        /// A PIN (`-`: read it from standard input, so it is not in the shell's history).
        #[arg(long, group = "value")]
        pin: Option<String>,
        /// A phone's public key, 64 hex digits.
        #[arg(long, group = "value")]
        phone_key: Option<String>,
        /// Only these of the holder's doors, separated by `,`.
        #[arg(long)]
        doors: Option<String>,
    },
    /// Revoke credential ids or phone keys at once (sent with the next `publish`).
    #[command(after_help = "Example:\n  portvakt-admin credential revoke anna-tag")]
    Revoke {
        /// Credential ids.
        ids: Vec<String>,
        /// Phone keys, 64 hex digits (repeat).
        #[arg(long = "phone-key")]
        phone_keys: Vec<String>,
    },
    /// Take a credential away.
    #[command(after_help = "Example (a lost tag):\n  portvakt-admin credential remove anna-tag --revoke")]
    Remove {
        /// The credential's id.
        id: String,
        /// Also revoke it at once (lost or stolen).
        #[arg(long)]
        revoke: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum GroupCommand {
    /// Add a team or apartment.
    #[command(
        after_help = "Examples:\n  portvakt-admin group add team-soder --name \"Hemtjänsten Söder\" --site storgatan-12 --doors entrance,rubbish\n  portvakt-admin group add lgh-1302 --doors entrance,rubbish,laundry"
    )]
    Add {
        /// Its id.
        id: String,
        /// What people call it.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        doors: SiteDoors,
    },
    /// Set the group's doors at a site (for every member).
    Doors {
        /// Its id.
        id: String,
        #[command(flatten)]
        doors: SiteDoors,
    },
    /// Remove a group that has no members left.
    Remove {
        /// Its id.
        id: String,
    },
}
