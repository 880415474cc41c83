//! `portvakt-central account`: the console's local accounts — add (the password from
//! standard input, never the command line), list, remove (ending its sessions).

use std::fmt::Write as _;

use clap::Subcommand;
use portvakt_central::db;

use super::{Failure, db_failure, fail};

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Adds an account (or sets its role, sites and password); the password is read from
    /// standard input, never from the command line.
    #[command(
        after_help = "Example:\n  portvakt-central account add --db … --name lena --role team_leader --sites ekvagen-3,solbacken-7 < password.txt"
    )]
    Add {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The login name.
        #[arg(long)]
        name: String,
        /// `administrator`, `team_leader`, `caretaker` or `auditor`.
        #[arg(long)]
        role: String,
        /// The sites a team leader or caretaker sees, separated by `,`.
        #[arg(long, value_delimiter = ',')]
        sites: Vec<String>,
    },
    /// Every account: name, role, sites.
    List {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
    },
    /// Removes an account and ends its sessions.
    Remove {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The login name.
        #[arg(long)]
        name: String,
    },
}

pub(crate) async fn account(c: AccountCommand) -> Result<String, Failure> {
    use portvakt_central::console::accounts::{self, Role};
    match c {
        AccountCommand::Add { db: url, name, role, sites } => {
            let role = Role::from_word(&role)
                .ok_or_else(|| fail(64, format!("--role {role}: administrator, team_leader, caretaker or auditor")))?;
            let mut password = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut password)
                .map_err(|e| fail(65, format!("the password on standard input: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            db::migrate(&mut client).await.map_err(db_failure)?;
            accounts::add(&client, &name, role, &sites, password).await.map_err(|e| match e {
                accounts::AccountError::Invalid(m) => fail(64, m),
                accounts::AccountError::Db(e) => db_failure(e),
            })?;
            Ok(format!("account {name}: {}\n", role.word()))
        }
        AccountCommand::List { db: url } => {
            let client = db::connect(&url).await.map_err(db_failure)?;
            let list = accounts::list(&client).await.map_err(db_failure)?;
            let mut out = String::new();
            for a in &list {
                let _ = writeln!(out, "{:<24} {:<14} {}", a.name, a.role.word(), a.sites.join(","));
            }
            Ok(out)
        }
        AccountCommand::Remove { db: url, name } => {
            let client = db::connect(&url).await.map_err(db_failure)?;
            if accounts::remove(&client, &name).await.map_err(db_failure)? {
                Ok(format!("account {name} removed\n"))
            } else {
                Err(fail(65, format!("no account {name}")))
            }
        }
    }
}
