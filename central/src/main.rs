//! `portvakt-central`: collect, migrate, verify, visits.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portvakt_central::console::catalogue;
use portvakt_central::console::i18n::Lang;
use portvakt_central::{console, db, demo, fleet_view, verify, visits};

mod accounts_cmd;
mod collect_cmd;
mod staff_cmd;
use accounts_cmd::{AccountCommand, account};
use collect_cmd::{Collect, collect};
use staff_cmd::{StaffCommand, staff};

/// Portvakt Central: every gateway's audit stream into PostgreSQL.
#[derive(Parser)]
#[command(name = "portvakt-central", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Applies the schema's migrations (collect does too, at start).
    Migrate {
        /// PostgreSQL: a URL or `host=/run/postgresql dbname=portvakt`.
        #[arg(long)]
        db: String,
    },
    /// Takes every gateway's records from the broker into PostgreSQL and acknowledges them.
    Collect(Collect),
    /// Checks a site's chain as stored: hashes, links, gaps, equivocation.
    Verify {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The site.
        #[arg(long)]
        site: String,
    },
    /// Another audience's records with their personal parts still sealed to it, as JSON
    /// lines to hand over (the owner opens them with `portvakt-admin personal`); recorded
    /// as a read.
    Sealed {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The site.
        #[arg(long)]
        site: String,
        /// Whose (the authority's id, e.g. owner).
        #[arg(long)]
        audience: String,
        /// Who asks (recorded with the read); default the login name.
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Erase one holder's personal parts of an audience's records (a person's right to
    /// erasure): header and commitment stay, verify says how many were erased.
    Erase {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// Whose records (an audience this Central reads).
        #[arg(long)]
        audience: String,
        /// The holder whose parts go.
        #[arg(long)]
        holder: String,
        /// Who asks (recorded, without the holder); default the login name.
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Every site at a glance: online, last heard, clock, outbox, records stored, devices,
    /// bundles, open alarms.
    Fleet {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// JSON lines (with each site's last state).
        #[arg(long)]
        json: bool,
    },
    /// Open alarms, or (with --since) every alarm raised since then, with raised and cleared times.
    Alarms {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Every alarm raised since this time (RFC 3339), cleared ones too.
        #[arg(long)]
        since: Option<String>,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Everything on one machine: a throwaway PostgreSQL, a three-node NATS cluster, two
    /// collectors and real gateways against simulated buildings; a scripted period with a
    /// broker node killed midway; then the fleet, the alarms and a visit list. Needs
    /// `apt install postgresql nats-server` and the gateway built (`cargo build`).
    #[command(
        after_help = "Example (from the repository's root):\n  cargo build && cargo run -p portvakt-central -- demo"
    )]
    Demo(DemoArgs),
    /// The operators' console in a browser (docs/central.md, "The console").
    #[command(
        after_help = "Example:\n  portvakt-central serve --db \"host=/run/postgresql dbname=portvakt\" --listen 127.0.0.1:8080"
    )]
    Serve {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// Where to listen: a loopback address, or any with --behind-proxy.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// A reverse proxy in front terminates TLS: cookies are Secure, the client's
        /// address is the proxy's X-Forwarded-For.
        #[arg(long)]
        behind_proxy: bool,
        /// Serve TLS itself with this certificate chain (PEM)...
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// ...and its private key (PEM, mode 600).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        staff: staff_cmd::StaffArgs,
    },
    /// The console's accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Staff who sign in for shift keys: the roster, disabling a person.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Visit lists (personal data: every read is recorded).
    Visits {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this holder.
        #[arg(long)]
        holder: Option<String>,
        /// Only this door.
        #[arg(long)]
        door: Option<String>,
        /// From this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Until this time (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// Who asks (recorded with the read); default the login name.
        #[arg(long = "as")]
        who: Option<String>,
        /// Why the list is read (recorded with the read): relatives, invoicing, deviation,
        /// police, or other with --note.
        #[arg(long, value_parser = visits::Purpose::WORDS)]
        purpose: String,
        /// The reason in words (required with --purpose other).
        #[arg(long)]
        note: Option<String>,
        /// JSON lines.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV with a header row.
        #[arg(long)]
        csv: bool,
    },
}

/// A failure and its exit code (sysexits: 64 usage, 65 data, 69 unavailable, 78 config).
struct Failure(u8, String);

fn fail(code: u8, m: impl Into<String>) -> Failure {
    Failure(code, m.into())
}

/// `demo`'s arguments.
#[derive(clap::Args)]
struct DemoArgs {
    /// The example building every simulated gateway runs; its secrets/ and
    /// example-residents.csv are beside it.
    #[arg(long, default_value = "config/portvakt.toml")]
    gateway_config: PathBuf,
    /// How many gateways (sites), 1 to 6.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=6))]
    gateways: u8,
    /// Keep the temporary folder (logs, databases).
    #[arg(long)]
    keep: bool,
    /// After the scripted day, keep everything running — the console too — until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
    /// Where the console listens (a loopback address; a free port when not given).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The staff side: the identity provider's issuer URL (`http://127.0.0.1:…` for one on
    /// this machine); its client for Central is --oidc-client-id and
    /// --oidc-client-secret-file, and it must send the browser back to
    /// `http://<--listen>/personal/inloggad`.
    #[arg(long, requires_all = ["keep_running", "listen", "oidc_client_id", "oidc_client_secret_file"])]
    oidc_issuer: Option<String>,
    /// The staff side with an identity provider the demo starts itself: the certified
    /// `oidc-provider` npm package (`tests/browser/idp.mjs`; run `npm ci` in tests/browser
    /// first), any login name and password.
    #[arg(long, requires = "keep_running", conflicts_with = "oidc_issuer")]
    staff: bool,
    /// Central's client id at --oidc-issuer.
    #[arg(long, requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// A file holding Central's client secret at --oidc-issuer.
    #[arg(long, requires = "oidc_issuer")]
    oidc_client_secret_file: Option<PathBuf>,
}

async fn demo_command(a: DemoArgs) -> Result<String, Failure> {
    if a.listen.is_some_and(|l| !l.ip().is_loopback()) {
        return Err(fail(64, "--listen: the demo serves on a loopback address only"));
    }
    let staff = a
        .oidc_issuer
        .zip(a.oidc_client_id)
        .zip(a.oidc_client_secret_file)
        .map(|((issuer, client_id), client_secret_file)| demo::Provider { issuer, client_id, client_secret_file });
    let options = demo::Options {
        gateway_config: a.gateway_config,
        gateways: usize::from(a.gateways),
        keep: a.keep,
        keep_running: a.keep_running,
        listen: a.listen,
        staff,
        local_provider: a.staff,
    };
    demo::run(&options).await.map_err(|e| fail(1, format!("demo: {e}")))?;
    Ok(String::new())
}

#[allow(clippy::needless_pass_by_value)] // it is map_err's argument
fn db_failure(e: db::DbError) -> Failure {
    fail(69, e.to_string())
}

fn time(flag: &str, s: Option<&String>) -> Result<Option<jiff::Timestamp>, Failure> {
    s.map(|s| s.parse::<jiff::Timestamp>().map_err(|e| fail(64, format!("--{flag}: {s}: {e}")))).transpose()
}

async fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Migrate { db: url } => {
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            let applied = db::migrate(&mut client).await.map_err(db_failure)?;
            Ok(if applied.is_empty() {
                "schema up to date\n".into()
            } else {
                format!("applied migration(s) {applied:?}\n")
            })
        }
        Command::Collect(args) => collect(args).await,
        Command::Serve { db: url, listen, behind_proxy, tls_cert, tls_key, staff } => {
            let staff = staff_cmd::staff_side(staff).await?;
            if let Some(s) = &staff {
                staff_cmd::publish_revocations(&url, s);
            }
            let staff = staff.map(|s| s.side);
            let tls = tls_cert.zip(tls_key);
            let options = console::Options { db: url, listen, behind_proxy, tls, staff, simulated_door: None };
            console::serve(options, None).await.map_err(|e| fail(69, e.to_string()))?;
            Ok(String::new())
        }
        Command::Account(c) => account(c).await,
        Command::Staff(c) => staff(c).await,
        Command::Demo(a) => demo_command(a).await,
        Command::Sealed { db: url, site, audience, who } => {
            let who = who.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            portvakt_central::handover::sealed(&mut client, &site, &audience, &who).await.map_err(db_failure)
        }
        Command::Erase { db: url, audience, holder, who } => {
            let who = who.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            let n = portvakt_central::retention::erase_holder(&mut client, &audience, &holder, &who)
                .await
                .map_err(db_failure)?;
            Ok(format!("{n} personal part(s) of {audience}'s records erased; headers and commitments kept\n"))
        }
        Command::Verify { db: url, site } => {
            let client = db::connect(&url).await.map_err(db_failure)?;
            let report = verify::site(&client, &site).await.map_err(db_failure)?;
            let text = report.render(&site);
            if report.intact() {
                Ok(text)
            } else {
                print!("{text}");
                Err(fail(65, "the stored chain is not whole (see above)"))
            }
        }
        Command::Fleet { db: url, json } => {
            let client = db::connect(&url).await.map_err(db_failure)?;
            let lines = fleet_view::sites(&client, None).await.map_err(db_failure)?;
            Ok(if json { fleet_view::json_lines(&lines) } else { fleet_view::table(&lines) })
        }
        Command::Alarms { db: url, site, since, json } => {
            let client = db::connect(&url).await.map_err(db_failure)?;
            let list = fleet_view::alarms(&client, site.as_deref(), time("since", since.as_ref())?)
                .await
                .map_err(db_failure)?;
            let words = |detail: &str, cleared: bool| catalogue::detail_text(Lang::En, detail, cleared);
            Ok(if json { fleet_view::alarm_json(&list, &words) } else { fleet_view::alarm_table(&list, &words) })
        }
        Command::Visits { db: url, site, holder, door, since, until, who, purpose, note, json, csv } => {
            let purpose = visits::Purpose::from_words(&purpose, note.as_deref())
                .map_err(|e| fail(64, format!("--purpose: {e}")))?;
            let filter = visits::Filter {
                site,
                holder,
                door,
                since: time("since", since.as_ref())?,
                until: time("until", until.as_ref())?,
                ..visits::Filter::default()
            };
            let who = who.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            let found = visits::read(&mut client, &filter, &who, &purpose).await.map_err(db_failure)?;
            Ok(if json {
                visits::json_lines(&found)
            } else if csv {
                visits::csv(&found)
            } else {
                visits::table(&found)
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    // The demo tells its own story; its collectors' routine lines would drown it.
    let quiet = matches!(cli.command, Command::Demo { .. });
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(if quiet { "error" } else { "info" }))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portvakt-central: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure(code, message)) => {
            eprintln!("portvakt-central: {message}");
            ExitCode::from(code)
        }
    }
}
