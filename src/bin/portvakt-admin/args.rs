//! The authority tool's arguments: every command and its options, as clap reads them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use jiff::Timestamp;

/// Shown after `portvakt-admin --help`: an authority's usual round, as typed.
const EXAMPLES: &str = "Examples:
  portvakt-admin keygen --out hemtjansten.key
  portvakt-admin bundle build --authority hemtjansten --site storgatan-12 \\
      --site-key credential-hash.key --csv staff.csv --out staff.body
  portvakt-admin bundle sign --in staff.body --key hemtjansten.key --out staff.pvkt
  portvakt-admin revoke --authority hemtjansten --site storgatan-12 --id care-natt-3 \\
      --key hemtjansten.key --out revoke.pvkt
  portvakt-admin verify staff.pvkt --public-key <64 hex digits>

`portvakt-admin <command> --help` tells more. Exit codes: 0 ok, 1 failure, 64 bad command
line, 65 bad input.";

/// The authority's tool for Portvakt credentials.
#[derive(Parser)]
#[command(
    name = "portvakt-admin",
    version,
    about = "The authority's tool for Portvakt: keys, signed bundles, revocation lists, phone certificates, \
             signed remote commands",
    long_about = None,
    after_help = EXAMPLES
)]
pub(crate) struct Cli {
    /// The authority's workspace folder (default: `PORTVAKT_WORKSPACE`, or the current folder).
    #[arg(long, global = true)]
    pub(crate) workspace: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Make a signing key: writes FILE (private, mode 600) and FILE.pub, prints the public key.
    #[command(
        after_help = "Example:\n  portvakt-admin keygen --out phone.key   (writes phone.key, mode 600, and phone.key.pub)"
    )]
    Keygen {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
        /// Make a reading key (X25519) instead of a signing key: its public half goes in
        /// `[[authorities]] reading_key`, and your records' personal parts leave the gateway
        /// sealed to it (docs/audit.md, Audiences).
        #[arg(long)]
        reading: bool,
        /// Make a P-256 phone key (for `phone`, as a phone's secure hardware holds one):
        /// its `.pub` file holds the key's id, what certificates and allowlists name.
        #[arg(long, conflicts_with = "reading")]
        p256: bool,
    },
    /// Print the public key of a private key file (to put in a gateway's config).
    Pubkey {
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
        /// It is a reading key (`keygen --reading`).
        #[arg(long)]
        reading: bool,
    },
    /// Allowlist bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Sign a revocation list.
    #[command(
        after_help = "Examples:\n  portvakt-admin revoke --authority hemtjansten --site storgatan-12 --id care-natt-3 --key hemtjansten.key --out revoke.pvkt\n  portvakt-admin revoke --authority hemtjansten --site storgatan-12 --phone-key <64 hex> --key hemtjansten.key --out revoke.pvkt"
    )]
    Revoke {
        /// The authority's id, as in the gateways' config.
        #[arg(long)]
        authority: String,
        /// The site, or * for every site trusting the authority.
        #[arg(long, default_value = "*")]
        site: String,
        /// Strictly increasing (default: now in seconds).
        #[arg(long)]
        sequence: Option<u64>,
        /// A credential or certificate id to revoke (repeat).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// A phone key to revoke, 64 hex digits (repeat).
        #[arg(long = "phone-key")]
        phone_keys: Vec<String>,
        /// The authority's private key.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed list.
        #[arg(long)]
        out: PathBuf,
    },
    /// Be a staff phone: open a door at a gateway over its simulated BLE transport
    /// (`[ble] socket`), with a phone key and perhaps a certificate; prints the verdict.
    /// Read your records' personal parts (who came in): the records on standard input
    /// (events messages, `portvakt-central sealed` lines, or an audit.query reply),
    /// opened with your reading key.
    #[command(
        after_help = "Example (the owner, from Central):\n  portvakt-central sealed --db … --site ekvagen-3 --audience owner | portvakt-admin personal --key owner.reading.key"
    )]
    Personal {
        /// Your reading key (`keygen --reading`).
        #[arg(long)]
        key: PathBuf,
        /// The site, for records that do not name theirs (an audit.query reply).
        #[arg(long)]
        site: Option<String>,
        /// Times are shown in this zone.
        #[arg(long, default_value = "Europe/Stockholm")]
        timezone: String,
        /// Read the records from this file instead of standard input.
        #[arg(long = "in")]
        input: Option<PathBuf>,
    },
    #[command(
        after_help = "Example (a running daemon with [ble] socket):\n  portvakt-admin phone --socket /run/portvakt/ble.sock --key phone.key --door entrance"
    )]
    Phone {
        /// The gateway's BLE socket.
        #[arg(long)]
        socket: PathBuf,
        /// The phone's private key (made with `keygen`, or `keygen --p256`).
        #[arg(long)]
        key: PathBuf,
        /// A phone certificate to present (made with `certify`).
        #[arg(long)]
        certificate: Option<PathBuf>,
        /// The door to open.
        #[arg(long)]
        door: String,
        /// The ATT MTU to pretend (23 to 517).
        #[arg(long, default_value_t = 185)]
        mtu: u16,
    },
    /// Sign a short-lived phone certificate. It is checked first against what the owner
    /// granted the authority at the site (`--config`, or the workspace's `site add
    /// --config`): role, doors and lifetime; without either, no more than 168 h.
    Certify(CertifyArgs),
    /// Delegate certificate issuing to an issuer key (say Portvakt Central's), so the
    /// authority's own key stays offline: the roles, doors and longest certificate it may
    /// issue, and how long the delegation holds. Revoke it from the workspace by its id
    /// (`credential revoke <id>`) or the issuer's key, so that later lists keep it.
    #[command(
        after_help = "Example:\n  portvakt-admin delegate --authority kommunen --id central-2026 --issuer central \\\n      --issuer-key <64 hex> --roles home_care --doors entrance,rubbish --key kommun.key --out central.delegation.pvkt\nThen the issuer signs: portvakt-admin certify --delegation central.delegation.pvkt --key central.key …"
    )]
    Delegate(crate::delegate::DelegateArgs),
    /// Sign a remote command for a gateway (`door.pulse`, `door.mode`, `audit.query`,
    /// `reload`), to publish on `portvakt/<site>/cmd/<name>`; it expires after the
    /// gateway's `command_max_age`.
    #[command(name = "command")]
    Remote {
        /// `door.pulse`, `door.mode`, `audit.query` or `reload`.
        name: String,
        /// The authority's id.
        #[arg(long)]
        authority: String,
        /// The gateway's site.
        #[arg(long)]
        site: String,
        /// The door (`door.pulse`, `door.mode`; for `audit.query`, only this door's records).
        #[arg(long)]
        door: Option<String>,
        /// The mode, for `door.mode`: `normal`, `free_passage` or `lockdown`.
        #[arg(long)]
        mode: Option<String>,
        /// `audit.query`: only this holder's records.
        #[arg(long)]
        holder: Option<String>,
        /// `audit.query`: records at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<Timestamp>,
        /// `audit.query`: records before this time (RFC 3339).
        #[arg(long)]
        until: Option<Timestamp>,
        /// `audit.query`: records after this sequence number (the previous page's `next_after`).
        #[arg(long)]
        after_seq: Option<u64>,
        /// `audit.query`: records in the page, 1 to 500 (default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// `audit.query`: why the visit list is read (required by the gateway): relatives,
        /// invoicing, deviation, police, or other with --note.
        #[arg(long)]
        purpose: Option<String>,
        /// `audit.query`: the reason in words, for --purpose other.
        #[arg(long)]
        note: Option<String>,
        /// The correlation id echoed in the reply (default: a fresh one).
        #[arg(long)]
        id: Option<String>,
        /// The authority's private key.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed command.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a collector's acknowledgement (`confirm = "collector"`), to publish on
    /// `portvakt/<site>/events/ack`: every record through `--through` is stored.
    Ack {
        /// The gateway's site.
        #[arg(long)]
        site: String,
        /// The chain's run acknowledged (`epoch.id` of the records in `events`); leave out
        /// for records that carry no `epoch`.
        #[arg(long)]
        epoch: Option<String>,
        /// The newest record stored, with every one before it.
        #[arg(long)]
        through: u64,
        /// That record's `hash`, as it came in `events`.
        #[arg(long)]
        hash: String,
        /// The collector's private key (its public key is the gateway's `uplink.collector_key`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the acknowledgement.
        #[arg(long)]
        out: PathBuf,
    },
    /// The workspace's verbs (docs/owner.md).
    #[command(flatten)]
    Workspace(crate::ws_args::WsCommand),
    /// Check a signed document's signature against a public key and show it.
    Verify {
        /// The signed file.
        file: PathBuf,
        /// The authority's public key (64 hex digits) or a .pub file.
        #[arg(long)]
        public_key: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum BundleCommand {
    /// Build an unsigned bundle body from a CSV staff or resident list.
    #[command(
        after_help = "Examples:\n  portvakt-admin bundle build --authority hemtjansten --site storgatan-12 --site-key credential-hash.key \\\n      --csv staff.csv --out staff.body\n  portvakt-admin bundle build --authority owner --site storgatan-12 --site-key credential-hash.key \\\n      --csv residents.csv --bookings bookings.csv --policy policy.toml --out residents.body"
    )]
    Build {
        /// The authority's id.
        #[arg(long)]
        authority: String,
        /// The site's id.
        #[arg(long)]
        site: String,
        /// Strictly increasing (default: now in seconds).
        #[arg(long)]
        version: Option<u64>,
        /// Days until the bundle expires.
        #[arg(long, default_value_t = 30)]
        valid_days: i64,
        /// How often you re-issue this bundle, in days: a lifetime too short to outlive a
        /// late re-issue is warned about.
        #[arg(long, default_value_t = 7)]
        reissue_every_days: i64,
        /// The site's credential key (shared with the site) for hashing PINs and tags.
        #[arg(long)]
        site_key: PathBuf,
        /// Credentials CSV: `id,holder,role,kind,secret,doors` and optionally
        /// `schedule,valid_from,valid_until,name,group`.
        #[arg(long)]
        csv: PathBuf,
        /// Laundry bookings (owner only): holder,door,start,end.
        #[arg(long)]
        bookings: Option<PathBuf>,
        /// Site policy (owner only), TOML: `[schedules.<id>]` as in the gateway config,
        /// `[door_code] schedule = "<id>"`, `[free_passage] <door> = "<schedule>"`.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Time zone for local times in the CSV.
        #[arg(long, default_value = "Europe/Stockholm")]
        timezone: String,
        /// The site's config: the bundle is refused, before it is written, where the
        /// gateway would refuse it (roles, doors, bookings, lifetime outside the grant).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the body.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a bundle body.
    #[command(
        after_help = "Example:\n  portvakt-admin bundle sign --in staff.body --key hemtjansten.key --out staff.pvkt"
    )]
    Sign {
        /// The unsigned body.
        #[arg(long = "in")]
        input: PathBuf,
        /// The authority's private key.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a bundle (signed or not), for people or as JSON.
    Inspect {
        /// The file.
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `certify`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct CertifyArgs {
    /// The authority's id.
    #[arg(long)]
    pub(crate) authority: String,
    /// The site, or * for every site trusting the authority.
    #[arg(long, default_value = "*")]
    pub(crate) site: String,
    /// The certificate's id.
    #[arg(long)]
    pub(crate) id: String,
    /// The holder.
    #[arg(long)]
    pub(crate) holder: String,
    /// The holder's role.
    #[arg(long)]
    pub(crate) role: String,
    /// The phone's key: an Ed25519 key or a key's id (64 hex digits), or a P-256 key
    /// (130 hex digits, uncompressed), which is named by its id.
    #[arg(long)]
    pub(crate) phone_key: String,
    /// Doors, separated by `,` or `;` (as in the CSV files), or * for the authority's whole scope.
    #[arg(long, default_value = "*")]
    pub(crate) doors: String,
    /// Hours of validity from now.
    #[arg(long, default_value_t = 12)]
    pub(crate) hours: i64,
    /// A signed revocation list to carry to gateways without coverage.
    #[arg(long)]
    pub(crate) revocations: Option<PathBuf>,
    /// The authority's private key (with `--delegation`, the issuer's).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Sign as a delegated issuer: the authority's delegation (from `delegate`), carried
    /// inside the certificate; the certificate is checked against it first.
    #[arg(long)]
    pub(crate) delegation: Option<PathBuf>,
    /// The site's config, to check the certificate against the authority's grant there.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Where to write the certificate.
    #[arg(long)]
    pub(crate) out: PathBuf,
}
