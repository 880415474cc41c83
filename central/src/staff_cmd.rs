//! `portvakt-central staff`: the roster published from the municipality's workspace
//! (`import`, checked whole first), and disabling a person (no new shift certificates;
//! their current ones listed to revoke) or enabling them again.

use clap::Subcommand;
use portvakt_central::db;
use portvakt_central::staff::{roster::Roster, store};

use super::{Failure, db_failure, fail};

#[derive(Subcommand)]
pub(crate) enum StaffCommand {
    /// Replaces the roster (teams with their doors, people with their login and team)
    /// with the one `portvakt-admin staff roster` wrote; nothing changes if it has a problem.
    Import {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The roster (JSON).
        #[arg(long)]
        roster: std::path::PathBuf,
    },
    /// Disables a person: no new shift certificate from now; prints their certificates
    /// still valid, to revoke at once (`portvakt-admin revoke --id …`).
    Disable {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The person's holder id.
        #[arg(long)]
        holder: String,
        /// Who disables them (recorded); default the login name.
        #[arg(long = "as")]
        who: Option<String>,
    },
    /// Enables a disabled person again.
    Enable {
        /// PostgreSQL.
        #[arg(long)]
        db: String,
        /// The person's holder id.
        #[arg(long)]
        holder: String,
    },
}

pub(crate) async fn staff(c: StaffCommand) -> Result<String, Failure> {
    match c {
        StaffCommand::Import { db: url, roster } => {
            let bytes = std::fs::read(&roster).map_err(|e| fail(66, format!("{}: {e}", roster.display())))?;
            let parsed = Roster::parse(&bytes).map_err(|problems| {
                fail(65, format!("{}: nothing imported:\n  {}", roster.display(), problems.join("\n  ")))
            })?;
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            db::migrate(&mut client).await.map_err(db_failure)?;
            let (teams, people) = store::replace_roster(&mut client, &parsed).await.map_err(db_failure)?;
            Ok(format!("roster of {}: {teams} team(s), {people} person(s)\n", parsed.authority))
        }
        StaffCommand::Disable { db: url, holder, who } => {
            let who = who.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            db::migrate(&mut client).await.map_err(db_failure)?;
            let valid = store::disable(&client, &holder, &who, jiff::Timestamp::now()).await.map_err(db_failure)?;
            let still = if valid.is_empty() {
                String::new()
            } else {
                format!("certificates still valid, to revoke now: {}\n", valid.join(", "))
            };
            Ok(format!("{holder} is disabled: no new shift certificates\n{still}"))
        }
        StaffCommand::Enable { db: url, holder } => {
            let mut client = db::connect(&url).await.map_err(db_failure)?;
            db::migrate(&mut client).await.map_err(db_failure)?;
            if store::enable(&client, &holder).await.map_err(db_failure)? {
                Ok(format!("{holder} may have shift certificates again\n"))
            } else {
                Err(fail(65, format!("{holder} was not disabled")))
            }
        }
    }
}
