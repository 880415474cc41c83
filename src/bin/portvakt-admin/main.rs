//! `portvakt-admin`: the authority's tool. Makes keys, builds allowlist bundles from a
//! staff or resident list, signs them, inspects and verifies signed documents, issues
//! revocation lists and phone certificates. It never talks to a gateway: its output files
//! are dropped into a gateway's inbox or published over MQTT.

mod args;
mod certify;
mod delegate;
mod documents;
mod personal;
mod ws_args;
mod ws_cmds;
mod ws_publish;
mod ws_time_args;
mod ws_verdict;

use std::path::Path;
use std::process::ExitCode;

use anyhow::anyhow;
use jiff::Timestamp;

use portvakt::admin::remote::{self, CommandArgs};
use portvakt::core::hex;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::keys;
use portvakt::credentials::revocation::RevocationList;
use portvakt::exit;

use args::{BundleCommand, Cli, Command};
use documents::{build, inspect, keygen, now_seconds, sign, verify, write_new};

/// `--workspace`, else `PORTVAKT_WORKSPACE`, else the current folder.
fn workspace_dir(arg: Option<std::path::PathBuf>) -> std::path::PathBuf {
    arg.or_else(|| std::env::var_os("PORTVAKT_WORKSPACE").map(std::path::PathBuf::from)).unwrap_or_else(|| ".".into())
}

fn run(cli: Cli) -> anyhow::Result<String> {
    match cli.command {
        Command::Workspace(c) => ws_cmds::run(&workspace_dir(cli.workspace), c),
        Command::Keygen { out, reading, p256 } => {
            if p256 {
                delegate::keygen_p256(&out)
            } else {
                keygen(&out, reading)
            }
        }
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
            config,
            out,
        }) => build(
            &authority,
            &site,
            version,
            (valid_days, reissue_every_days),
            &site_key,
            &documents::Inputs {
                csv: &csv,
                bookings: bookings.as_deref(),
                policy: policy.as_deref(),
                config: config.as_deref(),
            },
            &timezone,
            &out,
        ),
        Command::Bundle(BundleCommand::Sign { input, key, out }) => sign(&input, &key, &out),
        Command::Bundle(BundleCommand::Inspect { file, json }) => inspect(&file, json),
        Command::Revoke { authority, site, sequence, ids, phone_keys, key, out } => {
            revoke(authority, site, sequence, ids, &phone_keys, &key, &out)
        }
        Command::Certify(args) => certify::run(args, &workspace_dir(cli.workspace)),
        Command::Delegate(args) => delegate::run(args, &workspace_dir(cli.workspace)),
        Command::Remote {
            name,
            authority,
            site,
            door,
            mode,
            holder,
            since,
            until,
            after_seq,
            limit,
            purpose,
            note,
            id,
            key,
            out,
        } => {
            let args = CommandArgs { door, mode, holder, since, until, after_seq, limit, purpose, note };
            let body =
                remote::command_body(&name, authority, site, id, args, Timestamp::now()).map_err(|e| anyhow!(e))?;
            let signing = keys::read_private(&key)?;
            write_new(&out, &portvakt::uplink::command::seal(&body, &signing))?;
            Ok(format!("{} {} signed as id {}, written to {}\n", body.cmd, body.args, body.id, out.display()))
        }
        Command::Ack { site, epoch, through, hash, key, out } => {
            let body = remote::ack_body(site, epoch, through, &hash).map_err(|e| anyhow!(e))?;
            let signing = keys::read_private(&key)?;
            write_new(&out, &portvakt::uplink::ack::seal(&body, &signing))?;
            Ok(format!("acknowledgement through {through} for {}, written to {}\n", body.site, out.display()))
        }
        Command::Phone { socket, key, certificate, door, mtu } => {
            phone(&socket, &key, certificate.as_deref(), &door, mtu)
        }
        Command::Verify { file, public_key } => verify(&file, &public_key),
        Command::Pubkey { key, reading } => documents::pubkey(&key, reading),
        Command::Personal { key, site, timezone, input } => {
            personal::from(&key, site.as_deref(), &timezone, input.as_deref())
        }
    }
}

/// A signed revocation list of `ids` and phone keys.
fn revoke(
    authority: String,
    site: String,
    sequence: Option<u64>,
    ids: Vec<String>,
    phone_keys: &[String],
    key: &Path,
    out: &Path,
) -> anyhow::Result<String> {
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
    let signing = keys::read_private(key)?;
    write_new(out, &seal(DocType::Revocations, &list.encode(), &signing))?;
    Ok(format!(
        "revocation list of {} sequence {}: {} id(s), {} key(s), written to {}\n",
        list.authority,
        list.sequence,
        list.ids.len(),
        list.keys.len(),
        out.display()
    ))
}

fn phone(socket: &Path, key: &Path, certificate: Option<&Path>, door: &str, mtu: u16) -> anyhow::Result<String> {
    use portvakt::ble::message::Code;
    use portvakt::ble::phone::{Phone, PhoneExchange as _, SocketLink};
    let certificate = certificate.map(|c| std::fs::read(c).map_err(|e| anyhow!("{}: {e}", c.display()))).transpose()?;
    let phone = Phone { key: keys::read_phone_key(key)?, certificate };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let code = rt.block_on(async {
        let mut link = SocketLink::connect(socket, mtu).await.map_err(|e| anyhow!("{}: {e}", socket.display()))?;
        phone.open_door(&mut link, door).await.map_err(|e| anyhow!("{e}"))
    })?;
    if code == Code::Granted { Ok(format!("{door}: granted\n")) } else { Err(anyhow!("{door}: {}", code.word())) }
}

fn main() -> ExitCode {
    let cli: Cli = match exit::parse_args() {
        Ok(cli) => cli,
        Err(code) => return code, // a mistake 64 (EX_USAGE), --help and --version 0
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
