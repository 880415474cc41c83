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
            store::end_sessions_of(&client, &holder).await.map_err(db_failure)?;
            let still = if valid.is_empty() {
                String::new()
            } else {
                format!(
                    "certificates still valid: {}; `serve` publishes them to the gateways on the issuer's revocation \
                     list within seconds (with --revocations-broker)\n",
                    valid.join(", ")
                )
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

/// `serve`'s staff side: shift certificates for staff who sign in at the municipality's
/// identity provider (docs/central.md, Staff keys). All of `--delegation`,
/// `--issuer-key`, `--oidc-issuer`, `--oidc-client-id`, `--oidc-client-secret-file` and
/// `--oidc-redirect`, or none.
#[derive(clap::Args, Debug)]
pub(crate) struct StaffArgs {
    /// The municipality's delegation to Central (`portvakt-admin delegate`).
    #[arg(long, requires_all = ["issuer_key", "oidc_issuer", "oidc_client_id", "oidc_client_secret_file", "oidc_redirect"])]
    delegation: Option<std::path::PathBuf>,
    /// Central's issuer key (64 hex digits, mode 600), the one the delegation names.
    #[arg(long, requires = "delegation")]
    issuer_key: Option<std::path::PathBuf>,
    /// The identity provider's issuer URL.
    #[arg(long, requires = "delegation")]
    oidc_issuer: Option<String>,
    /// Central's client id at the provider.
    #[arg(long, requires = "delegation")]
    oidc_client_id: Option<String>,
    /// A file holding Central's client secret at the provider (mode 600).
    #[arg(long, requires = "delegation")]
    oidc_client_secret_file: Option<std::path::PathBuf>,
    /// Where the provider sends the browser back: `https://<central>/personal/inloggad`.
    #[arg(long, requires = "delegation")]
    oidc_redirect: Option<String>,
    /// The ID token's claim naming a person in the roster (`login`).
    #[arg(long, default_value = "email")]
    oidc_login_claim: String,
    /// Extra CA certificates (PEM) to trust for the provider, beside the system's.
    #[arg(long)]
    oidc_ca: Option<std::path::PathBuf>,
    /// The authentication class to ask for and require (`acr`), such as Sweden's level 3:
    /// `http://id.elegnamnden.se/loa/1.0/loa3`.
    #[arg(long)]
    oidc_acr: Option<String>,
    /// How long a staff session lasts, in hours (a shift; 1 to 12).
    #[arg(long, default_value_t = 12)]
    shift_hours: i64,
    /// The gateways' MQTT broker, to publish the issuer's revocation list on whenever a
    /// disabled person holds a certificate still valid (mqtts://HOST:PORT; mqtt:// only to
    /// a loopback broker). Without it, disabling a person ends no certificate before its
    /// shift does.
    #[arg(long, requires = "delegation")]
    revocations_broker: Option<String>,
    /// The broker's CA certificate (PEM).
    #[arg(long, requires = "revocations_broker")]
    revocations_ca: Option<std::path::PathBuf>,
    /// Central's client certificate there (PEM), allowed to publish on
    /// `<root>/+/revocations/<authority>/<delegation id>`.
    #[arg(long, requires = "revocations_broker")]
    revocations_cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "revocations_broker")]
    revocations_key: Option<std::path::PathBuf>,
    /// The first topic level under which the gateways listen.
    #[arg(long, default_value = "portvakt")]
    revocations_root: String,
}

/// The staff side as `serve` runs it: what the console serves, and where the issuer's
/// revocation list goes (when a broker is named).
pub(crate) struct Staff {
    pub side: std::sync::Arc<portvakt_central::staff::StaffSide>,
    pub revocations: Option<portvakt_central::collector::Broker>,
}

/// The staff side from `serve`'s flags: the files read, the provider asked; none when not
/// configured.
pub(crate) async fn staff_side(a: StaffArgs) -> Result<Option<Staff>, Failure> {
    use portvakt_central::staff::{StaffSide, issue::Issuer, oidc_http};
    let revocations = match &a.revocations_broker {
        Some(url) => Some(super::collect_cmd::broker(
            url,
            (a.revocations_ca.as_ref(), a.revocations_cert.as_ref(), a.revocations_key.as_ref()),
            format!("portvakt-central-revocations-{}", std::process::id()),
            a.revocations_root.clone(),
        )?),
        None => None,
    };
    let (Some(delegation), Some(key), Some(issuer), Some(client_id), Some(secret), Some(redirect)) =
        (a.delegation, a.issuer_key, a.oidc_issuer, a.oidc_client_id, a.oidc_client_secret_file, a.oidc_redirect)
    else {
        return Ok(None);
    };
    if !(1..=12).contains(&a.shift_hours) {
        return Err(fail(64, format!("--shift-hours {}: 1 to 12", a.shift_hours)));
    }
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| fail(66, format!("{}: {e}", p.display())));
    let envelope = read(&delegation)?;
    let key = portvakt_central::keys::signing_key(&key).map_err(|e| fail(66, e))?;
    let issuer_side = Issuer::new(envelope, key).map_err(|e| fail(65, format!("{}: {e}", delegation.display())))?;
    let secret = String::from_utf8(read(&secret)?).map_err(|_| fail(65, "--oidc-client-secret-file: not text"))?;
    let ca_pem = a.oidc_ca.as_deref().map(read).transpose()?;
    let settings = oidc_http::Settings {
        issuer,
        client_id,
        client_secret: secret.trim().to_owned(),
        redirect_uri: redirect,
        ca_pem,
        acr: a.oidc_acr,
    };
    let oidc = oidc_http::Oidc::connect(settings).await.map_err(|e| fail(69, e.to_string()))?;
    log::info!(
        "staff side: issuing for delegation {} of {}",
        issuer_side.delegation().id,
        issuer_side.delegation().authority
    );
    if revocations.is_none() {
        log::warn!("staff side: no --revocations-broker, so a disabled person's certificates end only with the shift");
    }
    let side = std::sync::Arc::new(StaffSide {
        issuer: issuer_side,
        oidc,
        login_claim: a.oidc_login_claim,
        session: jiff::SignedDuration::from_hours(a.shift_hours),
    });
    Ok(Some(Staff { side, revocations }))
}

/// With a broker named, Central publishes the issuer's revocation list whenever a disabled
/// person's certificates still valid change: looked for every 2 s, until stopped.
pub(crate) fn publish_revocations(db: &str, staff: &Staff) {
    if let Some(broker) = staff.revocations.clone() {
        let every = std::time::Duration::from_secs(2);
        let stop = portvakt_central::stopping::requested();
        tokio::spawn(portvakt_central::staff::revocations::run(db.to_owned(), staff.side.clone(), broker, every, stop));
    }
}
