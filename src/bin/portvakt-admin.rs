//! `portvakt-admin`: the authority's tool. Makes keys, builds allowlist bundles from a
//! staff or resident list, signs them, inspects and verifies signed documents, issues
//! revocation lists and phone certificates. It never talks to a gateway: its output files
//! are dropped into a gateway's inbox or published over MQTT.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Parser, Subcommand};
use jiff::{SignedDuration, Timestamp};

use portvakt::admin::csv_import;
use portvakt::admin::remote::{self, CommandArgs};
use portvakt::core::credential::Token;
use portvakt::core::hex;
use portvakt::core::secret::CredentialKey;
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, open, seal, signature_ok};
use portvakt::credentials::keys;
use portvakt::credentials::revocation::RevocationList;
use portvakt::exit;

/// The authority's tool for Portvakt credentials.
#[derive(Parser)]
#[command(
    name = "portvakt-admin",
    version,
    about = "The authority's tool for Portvakt: keys, signed bundles, revocation lists, phone certificates, \
             signed remote commands",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a signing key: writes FILE (private, mode 600) and FILE.pub, prints the public key.
    Keygen {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a private key file (to put in a gateway's config).
    Pubkey {
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Allowlist bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Sign a revocation list.
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
    Phone {
        /// The gateway's BLE socket.
        #[arg(long)]
        socket: PathBuf,
        /// The phone's private key (made with `keygen`).
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
    /// Sign a short-lived phone certificate.
    Certify {
        /// The authority's id.
        #[arg(long)]
        authority: String,
        /// The site, or * for every site trusting the authority.
        #[arg(long, default_value = "*")]
        site: String,
        /// The certificate's id.
        #[arg(long)]
        id: String,
        /// The holder.
        #[arg(long)]
        holder: String,
        /// The holder's role.
        #[arg(long)]
        role: String,
        /// The phone's public key, 64 hex digits.
        #[arg(long)]
        phone_key: String,
        /// Doors, separated by `,` or `;` (as in the CSV files), or * for the authority's whole scope.
        #[arg(long, default_value = "*")]
        doors: String,
        /// Hours of validity from now.
        #[arg(long, default_value_t = 12)]
        hours: i64,
        /// A signed revocation list to carry to gateways without coverage.
        #[arg(long)]
        revocations: Option<PathBuf>,
        /// The authority's private key.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the certificate.
        #[arg(long)]
        out: PathBuf,
    },
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
enum BundleCommand {
    /// Build an unsigned bundle body from a CSV staff or resident list.
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
        /// `schedule,valid_from,valid_until`.
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
        /// Where to write the body.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a bundle body.
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

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn now_seconds() -> u64 {
    u64::try_from(Timestamp::now().as_second()).unwrap_or(0)
}

fn keygen(out: &Path) -> anyhow::Result<String> {
    let seed = keys::random_seed().context("reading /dev/urandom")?;
    keys::write_private(out, &seed)?;
    let public = keys::public_hex(&ed25519_dalek::SigningKey::from_bytes(&seed));
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    std::fs::write(&pub_path, format!("{public}\n")).context("writing the .pub file")?;
    Ok(format!("private key: {} (mode 600; keep it offline)\npublic key:  {public}\n", out.display()))
}

#[allow(clippy::too_many_arguments)]
fn build(
    authority: &str,
    site: &str,
    version: Option<u64>,
    (valid_days, reissue_every_days): (i64, i64),
    site_key: &Path,
    csv: &Path,
    bookings: Option<&PathBuf>,
    policy: Option<&PathBuf>,
    timezone: &str,
    out: &Path,
) -> anyhow::Result<String> {
    let tz =
        jiff::tz::TimeZone::get(timezone).map_err(|_| anyhow!("--timezone: \"{timezone}\" is not an IANA zone"))?;
    let key_text = std::fs::read_to_string(site_key).with_context(|| format!("reading {}", site_key.display()))?;
    let key = CredentialKey::from_hex(&key_text).with_context(|| format!("{}", site_key.display()))?;
    let text = std::fs::read_to_string(csv).with_context(|| format!("reading {}", csv.display()))?;
    let report = |path: &Path, problems: Vec<csv_import::RowProblem>| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {}: {p}", path.display())).collect();
        anyhow!("{} problem(s); no bundle was written:\n{}", problems.len(), lines.join("\n"))
    };
    let entries = csv_import::entries(&text, &key, &tz).map_err(|p| report(csv, p))?;
    let bookings = match bookings {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            csv_import::bookings(&text, &tz).map_err(|e| report(p, e))?
        }
        None => Vec::new(),
    };
    let policy = match policy {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let parsed = portvakt::config::owner_policy(&text).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(|q| format!("  {}: {q}", p.display())).collect();
                anyhow!("{} problem(s); no bundle was written:\n{}", problems.len(), lines.join("\n"))
            })?;
            Some(parsed)
        }
        None => None,
    };
    // The body keeps milliseconds; so does what is printed of it.
    let issued_at = Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| Timestamp::now());
    let bundle = Bundle {
        authority: authority.into(),
        site: site.into(),
        version: version.unwrap_or_else(now_seconds),
        issued_at,
        not_after: issued_at + SignedDuration::from_hours(valid_days.saturating_mul(24)),
        entries,
        bookings,
        policy,
    };
    write_new(out, &bundle.encode())?;
    for w in portvakt::admin::lifetime::warnings(valid_days, reissue_every_days) {
        eprintln!("warning: {w}");
    }
    Ok(format!(
        "bundle body for {authority} at {site}, version {}: {} credential(s), {} booking(s), expires {}\nwritten to {} (unsigned: sign it with `portvakt-admin bundle sign`)\n",
        bundle.version,
        bundle.entries.len(),
        bundle.bookings.len(),
        bundle.not_after,
        out.display()
    ))
}

fn sign(input: &Path, key: &Path, out: &Path) -> anyhow::Result<String> {
    let body = read(input)?;
    let bundle = Bundle::decode(&body).map_err(|e| anyhow!("{} is not a bundle body: {e}", input.display()))?;
    let signing = keys::read_private(key)?;
    write_new(out, &seal(DocType::Bundle, &body, &signing))?;
    Ok(format!(
        "signed bundle of {} version {} with key {}…\nwritten to {}\n",
        bundle.authority,
        bundle.version,
        &keys::public_hex(&signing)[..16],
        out.display()
    ))
}

fn token_kind(t: &Token) -> &'static str {
    match t {
        Token::Pin(_) => "pin",
        Token::Tag(_) => "tag",
        Token::Phone(_) => "phone",
    }
}

fn inspect(file: &Path, json: bool) -> anyhow::Result<String> {
    let bytes = read(file)?;
    let (body, signed) = match open(&bytes) {
        Ok(env) if env.doc_type == DocType::Bundle => (env.body.to_vec(), true),
        Ok(env) => bail!("{} is a {}, not a bundle", file.display(), env.doc_type.word()),
        Err(_) => (bytes.clone(), false),
    };
    let b = Bundle::decode(&body).map_err(|e| anyhow!("{} is not a bundle: {e}", file.display()))?;
    if json {
        let entries: Vec<serde_json::Value> = b
            .entries
            .iter()
            .map(|e| {
                let token = match &e.token {
                    Token::Phone(k) => hex::encode(&k.0),
                    Token::Pin(d) | Token::Tag(d) => hex::encode(&d.0),
                };
                serde_json::json!({
                    "id": e.id, "holder": e.holder, "role": e.role, "kind": token_kind(&e.token), "token": token,
                    "doors": e.doors, "schedule": e.schedule,
                    "valid_from": e.valid_from.map(|t| t.to_string()), "valid_until": e.valid_until.map(|t| t.to_string()),
                })
            })
            .collect();
        let v = serde_json::json!({
            "signed": signed, "authority": b.authority, "site": b.site, "version": b.version,
            "issued_at": b.issued_at.to_string(), "not_after": b.not_after.to_string(), "entries": entries,
            "bookings": b.bookings.iter().map(|k| serde_json::json!({"holder": k.holder, "door": k.door, "start": k.start.to_string(), "end": k.end.to_string()})).collect::<Vec<_>>(),
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&v)?));
    }
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for e in &b.entries {
        *kinds.entry(format!("{} {}", e.role, token_kind(&e.token))).or_default() += 1;
    }
    let mut out = format!(
        "{} bundle of {} for site {}, version {}\nissued {}, expires {}\n{} credential(s), {} booking(s)\n",
        if signed { "signed (signature not checked: use `verify`)" } else { "unsigned" },
        b.authority,
        b.site,
        b.version,
        b.issued_at,
        b.not_after,
        b.entries.len(),
        b.bookings.len()
    );
    for (k, n) in kinds {
        let _ = writeln!(out, "  {n:>6}  {k}");
    }
    Ok(out)
}

fn public_key_arg(arg: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode32(arg)
        .or_else(|| std::fs::read_to_string(arg).ok().and_then(|t| hex::decode32(&t)))
        .ok_or_else(|| anyhow!("--public-key: neither 64 hex digits nor a file holding them"))
}

fn verify(file: &Path, public_key: &str) -> anyhow::Result<String> {
    let key = public_key_arg(public_key)?;
    let bytes = read(file)?;
    let env = open(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if !signature_ok(&env, &key) {
        bail!(
            "{}: the signature does NOT verify with this key: forged, altered, or another authority's",
            file.display()
        );
    }
    let what = match env.doc_type {
        DocType::Bundle => Bundle::decode(env.body).map(|b| {
            format!(
                "bundle of {} for {}, version {}, {} credential(s)",
                b.authority,
                b.site,
                b.version,
                b.entries.len()
            )
        }),
        DocType::Revocations => RevocationList::decode(env.body).map(|r| {
            format!(
                "revocation list of {} for {}, sequence {}, {} id(s), {} key(s)",
                r.authority,
                r.site,
                r.sequence,
                r.ids.len(),
                r.keys.len()
            )
        }),
        DocType::Certificate => PhoneCertificate::decode(env.body).map(|c| {
            format!("phone certificate {} for {} ({}), {} to {}", c.id, c.holder, c.role, c.not_before, c.not_after)
        }),
        DocType::Command | DocType::Ack | DocType::Checkpoint => Ok(String::from_utf8_lossy(env.body).into_owned()),
    }
    .map_err(|e| anyhow!("{}: signed, but the body is malformed: {e}", file.display()))?;
    Ok(format!("{}: signature OK: {what}\n", file.display()))
}

fn run(cli: Cli) -> anyhow::Result<String> {
    match cli.command {
        Command::Keygen { out } => keygen(&out),
        Command::Bundle(BundleCommand::Build {
            authority,
            site,
            version,
            valid_days,
            reissue_every_days,
            site_key,
            csv,
            bookings,
            policy,
            timezone,
            out,
        }) => build(
            &authority,
            &site,
            version,
            (valid_days, reissue_every_days),
            &site_key,
            &csv,
            bookings.as_ref(),
            policy.as_ref(),
            &timezone,
            &out,
        ),
        Command::Bundle(BundleCommand::Sign { input, key, out }) => sign(&input, &key, &out),
        Command::Bundle(BundleCommand::Inspect { file, json }) => inspect(&file, json),
        Command::Revoke { authority, site, sequence, ids, phone_keys, key, out } => {
            let keys_bytes = phone_keys
                .iter()
                .map(|k| hex::decode32(k).ok_or_else(|| anyhow!("--phone-key {k}: not 64 hex digits")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let list = RevocationList {
                authority,
                site,
                sequence: sequence.unwrap_or_else(now_seconds),
                issued_at: Timestamp::now(),
                ids,
                keys: keys_bytes,
            };
            let signing = keys::read_private(&key)?;
            write_new(&out, &seal(DocType::Revocations, &list.encode(), &signing))?;
            Ok(format!(
                "revocation list of {} sequence {}: {} id(s), {} key(s), written to {}\n",
                list.authority,
                list.sequence,
                list.ids.len(),
                list.keys.len(),
                out.display()
            ))
        }
        Command::Certify { authority, site, id, holder, role, phone_key, doors, hours, revocations, key, out } => {
            let phone_key = hex::decode32(&phone_key).ok_or_else(|| anyhow!("--phone-key: not 64 hex digits"))?;
            let revocations = revocations.map(|p| read(&p)).transpose()?;
            let now = Timestamp::now();
            let cert = PhoneCertificate {
                authority,
                site,
                id,
                holder,
                role,
                phone_key,
                doors: doors.split([',', ';', ' ']).map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect(),
                not_before: now - SignedDuration::from_mins(5),
                not_after: now + SignedDuration::from_hours(hours),
                revocations,
            };
            let signing = keys::read_private(&key)?;
            write_new(&out, &seal(DocType::Certificate, &cert.encode(), &signing))?;
            Ok(format!(
                "phone certificate {} for {} valid until {}, written to {}\n",
                cert.id,
                cert.holder,
                cert.not_after,
                out.display()
            ))
        }
        Command::Remote { name, authority, site, door, mode, holder, since, until, after_seq, limit, id, key, out } => {
            let args = CommandArgs { door, mode, holder, since, until, after_seq, limit };
            let body =
                remote::command_body(&name, authority, site, id, args, Timestamp::now()).map_err(|e| anyhow!(e))?;
            let signing = keys::read_private(&key)?;
            write_new(&out, &portvakt::uplink::command::seal(&body, &signing))?;
            Ok(format!("{} {} signed as id {}, written to {}\n", body.cmd, body.args, body.id, out.display()))
        }
        Command::Ack { site, through, hash, key, out } => {
            let body = remote::ack_body(site, through, &hash).map_err(|e| anyhow!(e))?;
            let signing = keys::read_private(&key)?;
            write_new(&out, &portvakt::uplink::ack::seal(&body, &signing))?;
            Ok(format!("acknowledgement through {through} for {}, written to {}\n", body.site, out.display()))
        }
        Command::Phone { socket, key, certificate, door, mtu } => {
            phone(&socket, &key, certificate.as_deref(), &door, mtu)
        }
        Command::Verify { file, public_key } => verify(&file, &public_key),
        Command::Pubkey { key } => Ok(format!("{}\n", keys::public_hex(&keys::read_private(&key)?))),
    }
}

fn phone(socket: &Path, key: &Path, certificate: Option<&Path>, door: &str, mtu: u16) -> anyhow::Result<String> {
    use portvakt::ble::message::Code;
    use portvakt::ble::phone::{Phone, SocketLink};
    let certificate = certificate.map(|c| std::fs::read(c).map_err(|e| anyhow!("{}: {e}", c.display()))).transpose()?;
    let phone = Phone { key: keys::read_private(key)?, certificate };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let code = rt.block_on(async {
        let mut link = SocketLink::connect(socket, mtu).await.map_err(|e| anyhow!("{}: {e}", socket.display()))?;
        phone.open_door(&mut link, door).await.map_err(|e| anyhow!("{e}"))
    })?;
    if code == Code::Granted { Ok(format!("{door}: granted\n")) } else { Err(anyhow!("{door}: {}", code.word())) }
}

fn main() -> ExitCode {
    // A command-line mistake exits 64 (EX_USAGE); --help and --version 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    match run(cli) {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("portvakt-admin: {e:#}");
            ExitCode::from(exit::DATA)
        }
    }
}
