//! The demo's gateways: the real `portvakt run --simulate` (the gateway daemon against its
//! simulated building, served over Modbus TCP on loopback), one process per site, each
//! with its own store, inbox and control socket, its uplink in `confirm = "collector"`
//! mode to one node's MQTT listener. The owner's residents' bundle and the municipality's
//! home-care bundle are built and signed with `portvakt-admin` and taken in; people at the
//! doors are `portvakt sim`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::DemoError;
use super::tools::{Tools, command, output, tail};

/// The example building's files, copied once for every gateway.
pub struct Building {
    /// The example building's config, as every gateway runs it.
    pub config: PathBuf,
    residents: PathBuf,
    site_key: PathBuf,
    owner_key: PathBuf,
    home_care: PathBuf,
    /// The municipality's signing key (it delegates to Central in the staff demo).
    pub municipality_key: PathBuf,
    /// The owner's reading key: its residents' names are sealed to it.
    pub owner_reading_key: PathBuf,
    /// The municipality's reading key: its Central opens home care's visits with it.
    pub municipality_reading_key: PathBuf,
}

/// The municipality's authority id in the example building.
pub const MUNICIPALITY: &str = "hemtjansten";

/// The home-care staff of the demo: one night nurse with a PIN for the entrance and the
/// rubbish room (the example staff list's phones need a phone, its tag an end date).
const HOME_CARE: &str =
    "id,holder,role,kind,secret,doors\ncare-natt-5,hemtjanst-natt-5,home_care,pin,5201,entrance;rubbish\n";

impl Building {
    /// Copies `config` (the example `config/portvakt.toml`), its `secrets/` (mode 600, as
    /// the gateway demands) and the example residents beside it into `dir/etc`.
    pub fn copy(config: &Path, dir: &Path) -> Result<Self, DemoError> {
        let from = config.parent().unwrap_or(Path::new("."));
        let missing = |what: &Path| DemoError::Missing {
            what: what.display().to_string(),
            hint: "run the demo from the repository's root, or name the example building with --gateway-config".into(),
        };
        let etc = dir.join("etc");
        let copy = |rel: &str| -> Result<PathBuf, DemoError> {
            let source = from.join(rel);
            if !source.is_file() {
                return Err(missing(&source));
            }
            let target = etc.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| DemoError::io(&parent.display().to_string(), e))?;
            }
            std::fs::copy(&source, &target).map_err(|e| DemoError::io(&source.display().to_string(), e))?;
            if rel.starts_with("secrets/") {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| DemoError::io(&target.display().to_string(), e))?;
            }
            Ok(target)
        };
        let name = config.file_name().and_then(|n| n.to_str()).ok_or_else(|| missing(config))?;
        let config = copy(name)?;
        copy("secrets/door-code")?;
        let home_care = etc.join("home-care.csv");
        std::fs::write(&home_care, HOME_CARE).map_err(|e| DemoError::io(&home_care.display().to_string(), e))?;
        Ok(Self {
            config,
            residents: copy("example-residents.csv")?,
            site_key: copy("secrets/credential-hash.key")?,
            owner_key: copy("secrets/authorities/owner.key")?,
            home_care,
            municipality_key: copy("secrets/authorities/municipality.key")?,
            owner_reading_key: copy("secrets/authorities/owner.reading.key")?,
            municipality_reading_key: copy("secrets/authorities/municipality.reading.key")?,
        })
    }
}

/// One running gateway.
pub struct Gateway {
    /// Its site id.
    pub site: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    config: PathBuf,
    tools: Tools,
    process: Option<Child>,
}

impl Gateway {
    /// Starts the daemon for `site` (named `name`), its uplink to `broker` in collector
    /// mode with the collectors' public key, and waits until it answers `status`.
    pub async fn start(
        tools: &Tools,
        building: &Building,
        dir: &Path,
        (site, name): (&str, &str),
        broker: &str,
        collector_key: &str,
    ) -> Result<Self, DemoError> {
        let dir = dir.join(site);
        std::fs::create_dir_all(dir.join("inbox")).map_err(|e| DemoError::io(&dir.display().to_string(), e))?;
        std::fs::write(dir.join("synchronized"), b"").map_err(|e| DemoError::io(&dir.display().to_string(), e))?;
        let path = |f: &str| dir.join(f).display().to_string();
        let env = vec![
            ("PORTVAKT__SITE__ID".into(), site.to_owned()),
            ("PORTVAKT__SITE__NAME".into(), name.to_owned()),
            ("PORTVAKT__STORE__PATH".into(), path("gateway.db")),
            ("PORTVAKT__CREDENTIALS__INBOX".into(), path("inbox")),
            ("PORTVAKT__DAEMON__CONTROL_SOCKET".into(), path("control.sock")),
            // The simulated radio: the same BLE fragments over a Unix socket.
            ("PORTVAKT__BLE__SOCKET".into(), path("ble.sock")),
            // The demo's clock is the machine's, taken as synchronised (no timesyncd needed).
            ("PORTVAKT__CLOCK__SYNCHRONIZED_FLAG".into(), path("synchronized")),
            ("PORTVAKT__UPLINK__BROKER".into(), broker.to_owned()),
            ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".into(), "true".into()),
            ("PORTVAKT__UPLINK__CONFIRM".into(), "collector".into()),
            ("PORTVAKT__UPLINK__COLLECTOR_KEY".into(), collector_key.to_owned()),
            ("PORTVAKT__UPLINK__STATE_INTERVAL".into(), "10s".into()),
            // A signed checkpoint of the chain every few seconds (an hour in the field), so
            // that Central's check of them shows in a short demo.
            ("PORTVAKT__STORE__CHECKPOINT_INTERVAL".into(), "5s".into()),
        ];
        let log = dir.join("gateway.log");
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .map_err(|e| DemoError::io(&path("gateway.log"), e))
        };
        let (out, err) = (open()?, open()?);
        let mut gateway = Self {
            site: site.to_owned(),
            dir: dir.clone(),
            env,
            config: building.config.clone(),
            tools: tools.clone(),
            process: None,
        };
        let child = gateway
            .portvakt()
            .args(["run", "--simulate"])
            .env("RUST_LOG", "warn")
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| DemoError::io(&format!("starting the gateway of {site}"), e))?;
        gateway.process = Some(child);
        for _ in 0..100 {
            if gateway.status().await.is_ok() {
                return Ok(gateway);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(DemoError::step(
            &format!("the gateway of {site}"),
            format!("did not answer within 10 s:\n{}", tail(&log, 8)),
        ))
    }

    /// The gateway's simulated BLE socket (what a phone at its doors reaches).
    pub fn ble_socket(&self) -> PathBuf {
        self.dir.join("ble.sock")
    }

    /// The command line that reaches this gateway from a shell (`… sim laundry open`).
    pub fn command_line(&self) -> String {
        let quoted = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", quoted(v))).collect();
        format!("env {} {} --config {}", env.join(" "), self.tools.portvakt.display(), self.config.display())
    }

    /// `portvakt --config … ` with this gateway's settings.
    fn portvakt(&self) -> Command {
        let mut c = command(&self.tools.portvakt);
        c.arg("--config").arg(&self.config).envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// The owner's bundle of the example residents for this site: built, signed with the
    /// owner's key, dropped in the inbox and taken in at once.
    pub async fn issue_residents(&self, building: &Building) -> Result<(), DemoError> {
        self.issue(building, "owner", (&building.residents, &building.owner_key), "residents").await
    }

    /// The municipality's home-care bundle for this site, the same way.
    pub async fn issue_home_care(&self, building: &Building) -> Result<(), DemoError> {
        self.issue(building, MUNICIPALITY, (&building.home_care, &building.municipality_key), "home-care").await
    }

    async fn issue(
        &self,
        building: &Building,
        authority: &str,
        (csv, key): (&Path, &Path),
        name: &str,
    ) -> Result<(), DemoError> {
        let body = self.dir.join(format!("{name}.body"));
        let what = format!("{}: the {name} bundle", self.site);
        output(
            &what,
            command(&self.tools.admin)
                .args(["bundle", "build", "--authority", authority, "--site", &self.site, "--site-key"])
                .arg(&building.site_key)
                .arg("--csv")
                .arg(csv)
                .arg("--out")
                .arg(&body),
        )
        .await?;
        output(
            &what,
            command(&self.tools.admin)
                .args(["bundle", "sign", "--in"])
                .arg(&body)
                .arg("--key")
                .arg(key)
                .arg("--out")
                .arg(self.dir.join(format!("inbox/{name}.pvkt"))),
        )
        .await?;
        output(&what, self.portvakt().arg("intake")).await?;
        Ok(())
    }

    /// Someone at a door (`portvakt sim DOOR ACT [VALUE]`): what the door recorded.
    pub async fn sim(&self, door: &str, act: &str, value: Option<&str>) -> Result<String, DemoError> {
        let mut c = self.portvakt();
        c.args(["sim", door, act]);
        if let Some(v) = value {
            c.arg(v);
        }
        let said = output(&format!("{}: sim {door} {act}", self.site), &mut c).await?;
        Ok(said.lines().next().unwrap_or_default().trim().to_owned())
    }

    /// The daemon's `status --json`.
    pub async fn status(&self) -> Result<serde_json::Value, DemoError> {
        let what = format!("{}: status", self.site);
        let text = output(&what, self.portvakt().args(["status", "--json"])).await?;
        serde_json::from_str(&text).map_err(|e| DemoError::step(&what, e.to_string()))
    }

    /// The newest record's seq and how many records wait in the outbox.
    pub async fn head_and_outbox(&self) -> Result<(u64, u64), DemoError> {
        let s = self.status().await?;
        let field = |name: &str| s["store"][name].as_u64().unwrap_or_default();
        Ok((field("head_seq"), field("outbox_depth")))
    }

    /// An orderly stop (SIGTERM: strikes locked, the stop recorded), killed after 10 s.
    pub async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            if let Some(pid) = p.id() {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
            if tokio::time::timeout(Duration::from_secs(10), p.wait()).await.is_err() {
                let _ = p.start_kill();
                let _ = p.wait().await;
            }
        }
    }
}
