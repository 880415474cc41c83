//! The demo's staff side (`demo --keep-running --oidc-issuer …`): Central as the issuer
//! the municipality delegates to. A fresh issuer key, a delegation for home care's doors
//! signed with the municipality's key by `portvakt-admin delegate`, the home-care team's
//! roster, and the identity provider named on the command line; the staff app is then
//! served at `/personal/` beside the console.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::DemoError;
use super::gateway::{Building, MUNICIPALITY};
use super::tools::{Tools, command, output};
use crate::staff::{StaffSide, issue::Issuer, oidc_http, roster::Roster, store};

/// The identity provider the demo's staff sign in at.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Its issuer URL (`http://127.0.0.1:…` for a provider on this machine).
    pub issuer: String,
    /// Central's client id there.
    pub client_id: String,
    /// A file holding Central's client secret there.
    pub client_secret_file: PathBuf,
}

/// Starts a real OpenID provider on this machine for the demo: the `oidc-provider` npm
/// package of the browser tests (`tests/browser/idp.mjs` beside `repo`, its packages
/// installed with `npm ci`), on a free loopback port, with a fresh client secret, sending
/// the browser back to the console at `console`. Stopped when the child is dropped.
pub async fn local_provider(
    repo: &Path,
    dir: &Path,
    console: std::net::SocketAddr,
) -> Result<(Provider, tokio::process::Child), DemoError> {
    let script = repo.join("tests/browser/idp.mjs");
    let packages = repo.join("tests/browser/node_modules/oidc-provider");
    if !script.is_file() || !packages.is_dir() {
        return Err(DemoError::Missing {
            what: format!("the demo's identity provider ({})", script.display()),
            hint: "apt install npm, then `(cd tests/browser && npm ci)` in the repository".into(),
        });
    }
    let port = super::tools::free_port()?;
    let secret = dir.join("idp-client-secret");
    // A folder kept from an earlier run may hold one, perhaps with other permissions.
    let _ = std::fs::remove_file(&secret);
    let bytes = crate::console::session::random_bytes().map_err(|e| DemoError::io("/dev/urandom", e))?;
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&secret)
            .map_err(|e| DemoError::io("the client secret", e))?;
        f.write_all(portvakt_wire::hex::encode(&bytes).as_bytes())
            .map_err(|e| DemoError::io("the client secret", e))?;
    }
    let log = dir.join("idp.log");
    let out = std::fs::File::create(&log).map_err(|e| DemoError::io(&log.display().to_string(), e))?;
    let err = out.try_clone().map_err(|e| DemoError::io(&log.display().to_string(), e))?;
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(port.to_string())
        .arg(format!("http://{console}/personal/inloggad"))
        .arg(&secret)
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DemoError::Missing { what: format!("node ({e})"), hint: "apt install nodejs npm".into() })?;
    super::tools::wait_port("the demo's identity provider", port, std::time::Duration::from_secs(20)).await?;
    let provider = Provider {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: "portvakt-central".into(),
        client_secret_file: secret,
    };
    Ok((provider, child))
}

/// The demo's nurse's login at the identity provider.
pub const NURSE: &str = "anna.lind@hemtjansten.example";
/// Her team's name.
pub const TEAM: &str = "Hemtjänsten Norr";

/// The home-care team of the demo and its one nurse. Her login is what the provider says
/// of her (`email`).
pub const ROSTER: &str = r#"{
  "authority": "hemtjansten",
  "door_names": {"entrance": "Porten", "rubbish": "Soprummet"},
  "teams": [{"id": "hemtjanst-norr", "name": "Hemtjänsten Norr", "role": "home_care", "doors": ["entrance", "rubbish"]}],
  "people": [{"login": "anna.lind@hemtjansten.example", "holder": "anna-lind", "name": "Anna Lind", "team": "hemtjanst-norr"},
             {"login": "karin.berg@hemtjansten.example", "holder": "hemtjanst-natt-5", "name": "Karin Berg", "team": "hemtjanst-norr"}]
}"#;

/// Imports the home-care team's roster, so that the console shows its people by name
/// (every demo; the staff app's too).
pub async fn roster(db: &mut tokio_postgres::Client) -> Result<(), DemoError> {
    let roster = Roster::parse(ROSTER.as_bytes()).map_err(|e| DemoError::step("the demo's roster", e.join("; ")))?;
    store::replace_roster(db, &roster).await?;
    Ok(())
}

/// Sets up Central as the delegated issuer and asks the provider for its keys: the staff
/// side the console serves, and where the app sends the browser back.
pub async fn prepare(
    tools: &Tools,
    building: &Building,
    dir: &Path,
    db: &mut tokio_postgres::Client,
    (provider, console): (&Provider, std::net::SocketAddr),
) -> Result<Arc<StaffSide>, DemoError> {
    let key = super::script::fresh_key()?;
    let public = dir.join("central-issuer.pub");
    std::fs::write(&public, portvakt_wire::hex::encode(key.verifying_key().as_bytes()))
        .map_err(|e| DemoError::io(&public.display().to_string(), e))?;
    let delegation = dir.join("central.delegation.pvkt");
    output(
        "the municipality's delegation to Central",
        command(&tools.admin)
            .args(["delegate", "--authority", MUNICIPALITY, "--id", "central-demo", "--issuer", "central"])
            .arg("--issuer-key")
            .arg(&public)
            .args(["--roles", "home_care", "--doors", "entrance,rubbish", "--config"])
            .arg(&building.config)
            .arg("--key")
            .arg(&building.municipality_key)
            .arg("--out")
            .arg(&delegation),
    )
    .await?;
    let envelope = std::fs::read(&delegation).map_err(|e| DemoError::io(&delegation.display().to_string(), e))?;
    let issuer = Issuer::new(envelope, key).map_err(|e| DemoError::step("Central as issuer", e.to_string()))?;
    roster(db).await?;
    let secret = std::fs::read_to_string(&provider.client_secret_file)
        .map_err(|e| DemoError::io(&provider.client_secret_file.display().to_string(), e))?;
    let settings = oidc_http::Settings {
        issuer: provider.issuer.clone(),
        client_id: provider.client_id.clone(),
        client_secret: secret.trim().to_owned(),
        redirect_uri: format!("http://{console}/personal/inloggad"),
        ca_pem: None,
        acr: None,
    };
    let oidc = oidc_http::Oidc::connect(settings)
        .await
        .map_err(|e| DemoError::step(&format!("the identity provider {}", provider.issuer), e.to_string()))?;
    Ok(Arc::new(StaffSide { issuer, oidc, login_claim: "email".into(), session: jiff::SignedDuration::from_hours(10) }))
}
