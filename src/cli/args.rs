//! The command line's arguments: every command and its options, as clap reads them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shown after `portvakt --help`: the first commands people need, as they type them.
const EXAMPLES: &str = "Examples:
  portvakt demo                                     a scripted day and night, no hardware
  portvakt check-config                             what the config says, or every problem (exit 78)
  portvakt explain --door entrance --pin 2580 --at 2026-11-24T23:30
  portvakt schedule --week 2026-W52                 who gets in when, as in force
  portvakt doctor                                   the on-site checklist and hand-over page
  portvakt scan --units 1-20                        which Modbus unit ids answer
  portvakt audit list --holder anna-lgh1101         a visit list

The config is /etc/portvakt/portvakt.toml unless --config says otherwise; `portvakt <command>
--help` tells more. Exit codes: 0 ok, 1 failure, 64 bad command line, 65 bad data, 69 no
daemon, 74 store damaged, 78 bad configuration.";

/// Portvakt: the gateway for a building's shared doors.
#[derive(Parser)]
#[command(version, about, long_about = None, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// The main configuration file; conf.d/*.toml beside it is read too
    /// (default /etc/portvakt/portvakt.toml; for `demo`, config/portvakt.toml).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a scripted day and night at the example building against a simulated
    /// building over Modbus TCP, and print the timeline. Needs no hardware.
    Demo {
        /// The trial allowlist with the demo's residents and staff.
        #[arg(long, default_value = "config/example-allowlist.toml")]
        allowlist: PathBuf,
        /// Keep the simulated building running afterwards (Ctrl-C stops it).
        #[arg(long)]
        keep_running: bool,
        /// Also publish to this MQTT broker (`mqtt://127.0.0.1:1883` for a local test broker;
        /// mqtts:// uses the certificates of the config's [uplink]).
        #[arg(long, value_name = "URL")]
        mqtt: Option<String>,
    },
    /// Run the gateway daemon (under systemd: `Type=notify`; SIGHUP reloads the config).
    Run {
        /// Replace every bus by the simulated building (no hardware needed); act at its
        /// doors with `portvakt sim`.
        #[arg(long)]
        simulate: bool,
    },
    /// Show the running daemon's state: doors, devices, clock, store, bundles.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Act at a door of the running daemon's simulated building.
    #[command(
        after_help = "Examples (against `portvakt run --simulate`):\n  portvakt sim entrance tag 04:A2:19:7F\n  portvakt sim entrance code 2580\n  portvakt sim entrance open"
    )]
    Sim {
        /// The door.
        door: String,
        /// What happens: code DIGITS, tag UID, open, close, exit.
        act: String,
        /// The digits or the tag UID.
        value: Option<String>,
    },
    /// The on-site checklist: config, state directory, store, bundles, every device, time.
    /// Saves a commissioning record in the state directory; exit 1 if anything failed.
    Doctor {
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// Do not save the commissioning record.
        #[arg(long)]
        no_record: bool,
    },
    /// Check the configuration: a summary and exit 0, or every problem and exit 78.
    CheckConfig,
    /// Explain whether a credential opens a door at a time, and why.
    #[command(
        after_help = "Examples:\n  portvakt explain --door entrance --pin 2580 --at 2026-11-24T23:30\n  portvakt explain --door laundry --tag 04:A2:19:7F --at 2026-11-24T09:00\n  portvakt explain --door entrance --phone care-night-3 --untrusted-clock --allowlist trial.toml"
    )]
    Explain(ExplainArgs),
    /// The local audit log: visit lists and the hash-chain check.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Take in the signed bundles and revocation lists waiting in the inbox, once.
    Intake,
    /// Find which Modbus unit ids answer on a bus, and how.
    #[command(
        after_help = "Examples:\n  portvakt scan --units 1-20\n  portvakt scan --units 1-5 --tcp 192.168.1.50:502"
    )]
    Scan {
        /// The bus (default: the first in the config).
        #[arg(long)]
        bus: Option<String>,
        /// Unit ids to try, e.g. 1-247 or 1-10.
        #[arg(long, default_value = "1-247")]
        units: String,
        /// Reach the bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
    },
    /// Release one door's strike for its pulse (through the running daemon, or directly
    /// on the bus when none runs).
    #[command(after_help = "Examples:\n  portvakt pulse entrance\n  portvakt pulse rubbish --tcp 192.168.1.50:502")]
    Pulse {
        /// The door.
        door: String,
        /// Reach the door's bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
    },
    /// Show keypad entries, inputs and device outages as they happen (through the running
    /// daemon, or directly on a bus when none runs).
    #[command(after_help = "Examples:\n  portvakt watch\n  portvakt watch --seconds 60")]
    Watch {
        /// The bus (default: the first in the config).
        #[arg(long)]
        bus: Option<String>,
        /// Reach the bus at this Modbus TCP address instead of its configured link.
        #[arg(long)]
        tcp: Option<String>,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Show a week grid of when each door is open, per role.
    #[command(after_help = "Examples:\n  portvakt schedule --week 2026-W52\n  portvakt schedule --door laundry")]
    Schedule {
        /// Only this door.
        #[arg(long)]
        door: Option<String>,
        /// ISO week, e.g. 2026-W52 (default: this week).
        #[arg(long)]
        week: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the whole hash chain and report the first break, and the newest signed
    /// checkpoint (exit 65 if broken, cut short or rewritten).
    Verify {
        /// The store file (default: from the configuration).
        #[arg(long)]
        db: Option<PathBuf>,
        /// A checkpoint a collector kept (the `audit.checkpoint` record as JSON, or its
        /// detail): the store must still hold the record it covers, with that hash.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// List recorded events: who entered where, when.
    #[command(
        after_help = "Examples:\n  portvakt audit list --holder anna-lgh1101 --since 2026-11-01 --until 2026-12-01\n  portvakt audit list --door entrance --limit 20\n  portvakt audit list --json > visits.jsonl"
    )]
    List(AuditListArgs),
}

#[derive(Args)]
pub(crate) struct AuditListArgs {
    /// The store file (default: from the configuration). Times are in the site's zone when the
    /// configuration loads, else in UTC (the header names the zone).
    #[arg(long)]
    pub(crate) db: Option<PathBuf>,
    /// Only this door.
    #[arg(long)]
    pub(crate) door: Option<String>,
    /// Only this holder.
    #[arg(long)]
    pub(crate) holder: Option<String>,
    /// From this time (site time or RFC 3339).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Until this time (exclusive).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// At most this many, the newest.
    #[arg(long)]
    pub(crate) limit: Option<u32>,
    /// One JSON object per line, with chain hashes.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("token").required(true).args(["pin", "tag", "phone"]))]
pub(crate) struct ExplainArgs {
    /// The door.
    #[arg(long)]
    pub(crate) door: String,
    /// A PIN or the door code, as typed on the keypad.
    #[arg(long)]
    pub(crate) pin: Option<String>,
    /// A tag UID in hexadecimal (04:A2:19:7F).
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// A phone key: 64 hex digits, or the id of a phone credential in the allowlist.
    #[arg(long)]
    pub(crate) phone: Option<String>,
    /// When: site time (2026-11-24T23:30) or RFC 3339 (default: now).
    #[arg(long)]
    pub(crate) at: Option<String>,
    /// A trial allowlist with credentials and bookings (TOML); without it, the gateway's
    /// own accepted credentials from its store.
    #[arg(long)]
    pub(crate) allowlist: Option<PathBuf>,
    /// Decide as if the clock were not trusted (time sync not confirmed).
    #[arg(long, conflicts_with = "trusted_clock")]
    pub(crate) untrusted_clock: bool,
    /// Decide as if the clock were trusted even before the gateway's clock floor (without
    /// --at the clock is judged as the daemon judges it: a clock reading earlier than a
    /// time the gateway has already seen is not trusted).
    #[arg(long)]
    pub(crate) trusted_clock: bool,
    /// Decide as if the door were in this mode.
    #[arg(long, value_enum, default_value_t = Mode::Normal)]
    pub(crate) mode: Mode,
    /// Print the decision as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    Normal,
    /// Also written `free_passage`, as in the configuration and signed commands.
    #[value(alias = "free_passage")]
    FreePassage,
    Lockdown,
}
