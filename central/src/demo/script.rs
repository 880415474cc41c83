//! The demo's scripted period, and setting up and tearing down around it.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cluster::Cluster;
use super::gateway::{Building, Gateway, MUNICIPALITY};
use super::postgres::Postgres;
use super::privacy;
use super::tools::Tools;
use super::{DemoError, Options};
use crate::nats::{self, NatsError};
use crate::{db, fleet_view, verify, visits};

/// The sites the demo's gateways stand for (gateway `i` talks to node `i % 3`).
const SITES: [(&str, &str); 6] = [
    ("storgatan-12", "Storgatan 12"),
    ("ekvagen-3", "Ekvägen 3"),
    ("solbacken-7", "Solbacken 7"),
    ("tallstigen-1", "Tallstigen 1"),
    ("bruksgatan-9", "Bruksgatan 9"),
    ("hamnplan-4", "Hamnplan 4"),
];

/// The node killed midway (n2: the node of the second gateway).
const KILLED: usize = 1;

/// Someone at a door: (door, act, value, who it is).
type Act = (&'static str, &'static str, Option<&'static str>, &'static str);

const MORNING: [Act; 5] = [
    ("entrance", "code", Some("5201"), "home care's night nurse (the municipality's PIN)"),
    ("entrance", "tag", Some("04:A2:19:7F"), "Anna's tag"),
    ("entrance", "code", Some("4711"), "Anna's PIN"),
    ("rubbish", "tag", Some("04:99:88:77"), "Lars's tag"),
    ("entrance", "tag", Some("04:DE:AD:01"), "a tag nobody issued"),
];
const FORCED: Act = ("laundry", "open", None, "the laundry door pushed open while locked");
const NOON: [Act; 4] = [
    ("rubbish", "code", Some("5201"), "home care's night nurse"),
    ("entrance", "tag", Some("04:99:88:77"), "Lars's tag"),
    ("entrance", "code", Some("9001"), "the caretaker's PIN"),
    ("rubbish", "tag", Some("04:A2:19:7F"), "Anna's tag"),
];
const CLOSED: Act = ("laundry", "close", None, "the laundry door shut again");

/// What was started, so that it can all be stopped whatever happened.
#[derive(Default)]
struct Stage {
    postgres: Option<Postgres>,
    cluster: Option<Cluster>,
    gateways: Vec<Gateway>,
    collectors: Vec<JoinHandle<Result<(), NatsError>>>,
    /// The collectors' alarm sweep and retention, on a connection of its own.
    housekeeping: Option<JoinHandle<()>>,
    console: Option<JoinHandle<Result<(), crate::console::ConsoleError>>>,
    /// Central publishing its revocation list as the issuer (with the staff side).
    publisher: Option<JoinHandle<()>>,
    /// The identity provider the demo started (`--staff`).
    provider: Option<tokio::process::Child>,
    stop: Option<watch::Sender<bool>>,
}

impl Stage {
    async fn teardown(&mut self) {
        if let Some(c) = self.console.take() {
            c.abort();
        }
        if let Some(p) = self.publisher.take() {
            p.abort();
        }
        if let Some(mut p) = self.provider.take() {
            let _ = p.kill().await;
        }
        // The collectors first: a gateway's orderly stop is no alarm worth raising here.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for c in self.collectors.drain(..) {
            if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), c).await {
                eprintln!("a collector had stopped: {e}");
            }
        }
        if let Some(mut h) = self.housekeeping.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut h).await.is_err()
        {
            h.abort();
        }
        for g in &mut self.gateways {
            g.stop().await;
        }
        if let Some(mut cluster) = self.cluster.take() {
            cluster.stop().await;
        }
        self.postgres.take(); // stopped when dropped
    }
}

/// Runs the demo; everything it started is stopped and its folder removed (kept with
/// `--keep`, or when it failed, for the logs).
pub async fn run(o: &Options) -> Result<(), DemoError> {
    let tools = Tools::find()?;
    let dir = std::env::temp_dir().join(format!("portvakt-central-demo.{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| DemoError::io(&dir.display().to_string(), e))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        // PostgreSQL runs as `postgres` when we are root: it must reach its folders.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| DemoError::io(&dir.display().to_string(), e))?;
    }
    let mut stage = Stage::default();
    let told = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let result = tokio::select! {
        r = play(&tools, o, &dir, &mut stage, &told) => r,
        () = crate::stopping::requested() => if told.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(DemoError::step("the demo", "interrupted"))
        },
    };
    stage.teardown().await;
    if o.keep || result.is_err() {
        println!("(its folder, with every log, is kept: {})", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

pub(super) fn fresh_key() -> Result<SigningKey, DemoError> {
    let seed = crate::console::session::random_bytes().map_err(|e| DemoError::io("/dev/urandom", e))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn cluster_of(c: &Cluster, instance: usize) -> nats::Cluster {
    nats::Cluster {
        urls: c.client_urls(instance),
        ca: None,
        cert: None,
        root: "portvakt".into(),
        stream: "PORTVAKT_EVENTS".into(),
        consumer: "central".into(),
        replicas: 3,
        name: format!("central-{}", instance + 1),
    }
}

#[allow(clippy::too_many_lines)] // one story, told in order
async fn play(
    tools: &Tools,
    o: &Options,
    dir: &Path,
    stage: &mut Stage,
    told: &std::sync::atomic::AtomicBool,
) -> Result<(), DemoError> {
    let started = jiff::Timestamp::now();
    println!("== Portvakt Central demo, in {}", dir.display());
    let pg = stage.postgres.insert(Postgres::start(tools, dir).await?);
    println!("PostgreSQL {}: throwaway, on a Unix socket only", pg.version);
    let url = pg.url.clone();
    let cluster = stage.cluster.insert(Cluster::start(tools, dir).await?);
    println!(
        "NATS JetStream: three nodes n1 n2 n3 on loopback, each with an MQTT listener (demo: no TLS, loopback only)"
    );

    let mut db = db::connect(&url).await?;
    db::migrate(&mut db).await?;
    let key = fresh_key()?;
    let public = portvakt_wire::hex::encode(key.verifying_key().as_bytes());
    nats::make_streams(&cluster_of(cluster, 0)).await.map_err(|e| DemoError::step("the streams", e.to_string()))?;
    let (stop, stopped) = watch::channel(false);
    stage.stop = Some(stop);
    let building = Building::copy(&o.gateway_config, dir)?;
    // This Central is the municipality's: it reads its own staff's visits, nobody else's.
    let mut reading = crate::keys::ReadingKeys::default();
    reading
        .add(&format!("{MUNICIPALITY}={}", building.municipality_reading_key.display()))
        .map_err(|e| DemoError::step("the municipality's reading key", e))?;
    for instance in 0..2 {
        let c = cluster_of(cluster, instance);
        let mut client = db::connect(&url).await?;
        let keys = crate::keys::Keys { signing: key.clone(), reading: reading.clone() };
        let mut stopped = stopped.clone();
        stage.collectors.push(tokio::spawn(async move {
            nats::run(&c, &keys, &mut client, async move {
                let _ = stopped.changed().await;
            })
            .await
        }));
    }
    let (sweep_url, mut sweep_stopped) = (url.clone(), stopped.clone());
    stage.housekeeping = Some(tokio::spawn(async move {
        crate::housekeeping::run(&sweep_url, crate::retention::Retention::default(), async move {
            let _ = sweep_stopped.changed().await;
        })
        .await;
    }));
    println!("two collectors: instances of one durable consumer of the R3 stream PORTVAKT_EVENTS, into PostgreSQL;");
    println!(
        "   they hold the municipality's reading key ({MUNICIPALITY}) only: home care's names open, residents' stay sealed"
    );
    let password =
        crate::console::session::random_token().map_err(|e| DemoError::io("/dev/urandom", e))?[..16].to_owned();
    crate::console::accounts::add(&db, "demo", crate::console::accounts::Role::Administrator, &[], &password)
        .await
        .map_err(|e| DemoError::step("the demo's account", e.to_string()))?;
    let (ready, bound) = tokio::sync::oneshot::channel();
    let mut listen = o.listen.unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
    let mut provider = o.staff.clone();
    if o.local_provider {
        if listen.port() == 0 {
            listen.set_port(super::tools::free_port()?);
        }
        // The repository: the example building's, or where the demo was started.
        let beside = o.gateway_config.parent().and_then(Path::parent).unwrap_or(Path::new("."));
        let repo = if beside.join("tests/browser/idp.mjs").is_file() { beside } else { Path::new(".") };
        let (local, child) = super::staff::local_provider(repo, dir, listen).await?;
        println!("the identity provider: oidc-provider (npm) at {} — any login name, any password", local.issuer);
        stage.provider = Some(child);
        provider = Some(local);
    }
    super::staff::roster(&mut db).await?;
    let staff = match &provider {
        Some(provider) => Some(super::staff::prepare(tools, &building, dir, &mut db, (provider, listen)).await?),
        None => None,
    };
    let staff_on = staff.is_some();
    if let Some(side) = &staff {
        // Central publishes its revocation list on the first node's MQTT listener.
        let broker = crate::collector::Broker {
            host: "127.0.0.1".into(),
            port: cluster.mqtt_port(0),
            tls: None,
            client_id: "portvakt-central-revocations".into(),
            root: "portvakt".into(),
        };
        let mut stopped = stopped.clone();
        let stop = async move {
            let _ = stopped.changed().await;
        };
        let every = Duration::from_secs(2);
        stage.publisher =
            Some(tokio::spawn(crate::staff::revocations::run(url.clone(), side.clone(), broker, every, stop)));
    }
    // With the staff side, a browser without Web Bluetooth reaches the first gateway's door.
    let simulated_door = staff.as_ref().map(|_| dir.join(SITES[0].0).join("ble.sock"));
    let options =
        crate::console::Options { db: url.clone(), listen, behind_proxy: false, tls: None, staff, simulated_door };
    stage.console = Some(tokio::spawn(crate::console::serve(options, Some(ready))));
    let address = bound.await.map_err(|_| DemoError::step("the console", "did not start"))?;
    println!("the console: http://{address}/  (log in as demo, password {password})");

    for (i, site) in SITES.iter().take(o.gateways.clamp(1, SITES.len())).enumerate() {
        let g = Gateway::start(tools, &building, dir, *site, &cluster.mqtt_url(i), &public).await?;
        g.issue_residents(&building).await?;
        g.issue_home_care(&building).await?;
        println!(
            "gateway {} ({}): the real daemon and its simulated building, the owner's residents' and the municipality's home-care bundles; uplink to {}, confirm = collector",
            site.0,
            site.1,
            cluster.name(i)
        );
        stage.gateways.push(g);
    }
    let gateways = &stage.gateways;

    println!("\n== morning: people at the doors");
    act(&gateways[0], FORCED).await?;
    for g in gateways {
        for a in MORNING {
            act(g, a).await?;
        }
    }
    drained(gateways, &db, Duration::from_secs(60)).await?;
    println!("every record stored and acknowledged: each gateway's outbox is empty");

    let before: Vec<u64> = heads(gateways).await?;
    println!("\n== noon: node {} killed with SIGKILL", cluster.name(KILLED));
    cluster.kill(KILLED).await;
    for g in gateways {
        for a in NOON {
            act(g, a).await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during: Vec<u64> = heads(gateways).await?;
    for g in gateways {
        let (_, outbox) = g.head_and_outbox().await?;
        println!("   {:<14} outbox: {outbox} record(s) waiting", g.site);
    }
    println!("\n== afternoon: node {} started again", cluster.name(KILLED));
    cluster.restart(KILLED).await?;
    act(&gateways[0], CLOSED).await?;
    drained(gateways, &db, Duration::from_secs(120)).await?;
    println!("every record stored and acknowledged again: each gateway's outbox is empty");
    states_caught_up(&db, gateways.len(), Duration::from_secs(30)).await?;

    println!("\n== the fleet (portvakt-central fleet)");
    print!("{}", fleet_view::table(&fleet_view::sites(&db, None).await?));
    println!("\n== alarms raised during the demo (portvakt-central alarms --since …)");
    let words = |detail: &str, cleared: bool| {
        crate::console::catalogue::detail_text(crate::console::i18n::Lang::En, detail, cleared)
    };
    print!("{}", fleet_view::alarm_table(&fleet_view::alarms(&db, None, Some(started)).await?, &words));
    println!(
        "\n== the municipality's visit list (portvakt-central visits --since … --purpose invoicing; recorded in `reads`)"
    );
    println!("   home care's visits only: the residents' entries are sealed to the owner and Central cannot read them");
    let filter = visits::Filter { since: Some(started), ..visits::Filter::default() };
    print!("{}", visits::table(&visits::read(&mut db, &filter, "demo", &visits::Purpose::Invoicing).await?));
    privacy::show(tools, &building, dir, &mut db, &gateways[0].site).await?;

    println!("\n== records made while {} was down, now in PostgreSQL", cluster.name(KILLED));
    for (i, g) in gateways.iter().enumerate() {
        let route =
            if i % 3 == KILLED { "held in its outbox until its node came back" } else { "through the surviving nodes" };
        println!("   {:<14} seq {}–{}: {route}", g.site, before[i] + 1, during[i]);
    }
    println!("\n== each chain as stored (portvakt-central verify)");
    for g in gateways {
        let report = verify::site(&db, &g.site).await?;
        print!("{}", report.render(&g.site));
        if !report.intact() {
            return Err(DemoError::step(&format!("{}'s chain", g.site), "not whole in PostgreSQL (see above)"));
        }
    }
    privacy::erase_after_the_period(&db, gateways).await?;
    if o.keep_running {
        told.store(true, std::sync::atomic::Ordering::SeqCst);
        println!(
            "\nEverything keeps running: the console at http://{address}/ (demo / {password}); Ctrl-C stops it all."
        );
        println!("PostgreSQL: {url}");
        println!("At {}'s doors: {} sim laundry open", gateways[0].site, gateways[0].command_line());
        for g in gateways {
            println!("BLE at {}: {}", g.site, g.ble_socket().display());
        }
        if staff_on {
            println!(
                "The staff app: http://{address}/personal (sign in at the identity provider as {}; team {})",
                super::staff::NURSE,
                super::staff::TEAM
            );
        }
        std::future::pending::<()>().await;
    }
    println!("\nDone: stopping the gateways, the collectors, the cluster and PostgreSQL.");
    Ok(())
}

async fn act(g: &Gateway, (door, what, value, who): Act) -> Result<(), DemoError> {
    let said = g.sim(door, what, value).await?;
    println!("   {:<14} {:<9} {who}: {said}", g.site, door);
    Ok(())
}

async fn heads(gateways: &[Gateway]) -> Result<Vec<u64>, DemoError> {
    let mut out = Vec::new();
    for g in gateways {
        out.push(g.head_and_outbox().await?.0);
    }
    Ok(out)
}

/// Waits until every gateway's outbox is empty and PostgreSQL holds each site's chain
/// whole up to the gateway's newest record.
async fn drained(gateways: &[Gateway], db: &tokio_postgres::Client, limit: Duration) -> Result<(), DemoError> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        let mut waiting = Vec::new();
        for g in gateways {
            let (head, outbox) = g.head_and_outbox().await?;
            let row = db
                .query_opt("SELECT through FROM current_chains WHERE site = $1", &[&g.site])
                .await
                .map_err(db::DbError::from)?;
            let through = row.map_or(0, |r| r.get::<_, i64>(0));
            if outbox > 0 || u64::try_from(through).unwrap_or(0) != head {
                waiting.push(format!("{}: head {head}, outbox {outbox}, stored through {through}", g.site));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > until {
            return Err(DemoError::step(
                "waiting for every record",
                format!("not all stored within {}s: {}", limit.as_secs(), waiting.join("; ")),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until every gateway's retained state, as Central holds it, reports an empty
/// outbox (a state is refreshed every 10 s at most), so the fleet shows what is true now.
async fn states_caught_up(db: &tokio_postgres::Client, sites: usize, limit: Duration) -> Result<(), DemoError> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        let row = db
            .query_one("SELECT count(*) FROM gateways WHERE (state::jsonb ->> 'outbox_depth')::bigint = 0", &[])
            .await
            .map_err(db::DbError::from)?;
        if usize::try_from(row.get::<_, i64>(0)).unwrap_or(0) >= sites {
            return Ok(());
        }
        if tokio::time::Instant::now() > until {
            return Err(DemoError::step(
                "the fleet's state",
                "not every gateway's state reported its outbox empty within 30 s",
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
