//! `portvakt`: the gateway's command line. Parses arguments, loads and validates the
//! configuration, calls into the library and maps errors to exit codes; nothing else
//! (each group of commands is a module of `cli`).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use portvakt::config::LoadOptions;
use portvakt::daemon::logging;
use portvakt::exit;

use cli::args::{Cli, Command};
use cli::{Failure, config_path, fail, load_config};
use cli::{audit, on_site, policy};

fn run(cli: &Cli) -> Result<String, Failure> {
    match &cli.command {
        Command::Demo { allowlist, keep_running, mqtt } => {
            let path = cli.config.clone().unwrap_or_else(|| PathBuf::from("config/portvakt.toml"));
            let cfg = load_config(&path)?;
            portvakt::demo::run(&cfg, allowlist, *keep_running, mqtt.as_deref()).map_err(|e| {
                let code = match e {
                    portvakt::demo::DemoError::Allowlist(_) => exit::DATA,
                    _ => exit::FAILURE,
                };
                fail(code, e.to_string())
            })
        }
        Command::Run { simulate } => {
            let path = config_path(cli);
            let cfg = load_config(&path)?;
            let level = std::env::var("PORTVAKT_LOG").ok().and_then(|l| l.parse().ok()).unwrap_or(cfg.daemon.log_level);
            logging::init(level, std::env::var("JOURNAL_STREAM").ok().as_deref());
            portvakt::daemon::run_process(LoadOptions::file(path).with_process_env(), *simulate)
                .map(|()| String::new())
                .map_err(|e| fail(e.exit_code(), e.to_string()))
        }
        Command::Status { json } => on_site::status_cmd(cli, *json),
        Command::Doctor { json, no_record } => on_site::doctor_cmd(cli, *json, *no_record),
        Command::Sim { door, act, value } => on_site::sim_cmd(cli, door, act, value.as_ref()),
        Command::CheckConfig => Ok(policy::check_config_cmd(&load_config(&config_path(cli))?)),
        Command::Explain(a) => policy::explain_cmd(&load_config(&config_path(cli))?, a),
        Command::Schedule { door, week } => {
            policy::schedule_cmd(&load_config(&config_path(cli))?, door.as_ref(), week.as_ref())
        }
        Command::Audit(cmd) => audit::audit_cmd(cli, cmd),
        Command::Scan { bus, units, tcp } => on_site::scan_cmd(cli, bus.as_ref(), units, tcp.as_ref()),
        Command::Pulse { door, tcp } => on_site::pulse_cmd(cli, door, tcp.as_ref()),
        Command::Watch { bus, tcp, seconds } => on_site::watch_cmd(cli, bus.as_ref(), tcp.as_ref(), *seconds),
        Command::Intake => on_site::intake_cmd(&load_config(&config_path(cli))?),
    }
}

fn main() -> ExitCode {
    let cli: Cli = match exit::parse_args() {
        Ok(cli) => cli,
        Err(code) => return code, // a mistake 64 (EX_USAGE), --help and --version 0
    };
    match run(&cli) {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(f) => {
            eprint!("portvakt: {}", f.error);
            for cause in f.error.chain().skip(1) {
                eprint!(": {cause}");
            }
            eprintln!();
            ExitCode::from(f.code)
        }
    }
}
