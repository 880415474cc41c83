//! `portvakt-central collect`: one collector instance — its arguments (broker or NATS
//! cluster, TLS, keys, retention), then collecting until stopped, connecting to
//! PostgreSQL again whenever it is lost.

use std::path::PathBuf;
use std::sync::Arc;

use portvakt_central::{collector, db, keys, nats};

use super::{Failure, db_failure, fail};

/// An MQTT broker from its URL and, for mqtts://, the CA, client certificate and key.
pub(crate) fn broker(
    url: &str,
    (ca, cert, key): (Option<&PathBuf>, Option<&PathBuf>, Option<&PathBuf>),
    client_id: String,
    root: String,
) -> Result<collector::Broker, Failure> {
    let (tls, host, port) = portvakt_wire::broker::parse_broker(url).map_err(|e| fail(64, format!("{url}: {e}")))?;
    let tls = if tls {
        let read = |flag: &str, p: Option<&PathBuf>| -> Result<Vec<u8>, Failure> {
            let p = p.ok_or_else(|| fail(64, format!("mqtts:// needs --{flag}")))?;
            std::fs::read(p).map_err(|e| fail(78, format!("--{flag} {}: {e}", p.display())))
        };
        let config = portvakt_wire::tls::tls_client(&read("ca", ca)?, &read("cert", cert)?, &read("cert-key", key)?)
            .map_err(|e| fail(78, e))?;
        Some(Arc::new(config))
    } else {
        if !portvakt_wire::broker::is_loopback(&host) {
            return Err(fail(64, format!("--broker {url}: plain mqtt:// only to a loopback broker; use mqtts://")));
        }
        None
    };
    Ok(collector::Broker { host, port, tls, client_id, root })
}

/// `collect`'s arguments.
#[derive(clap::Args)]
pub(crate) struct Collect {
    /// PostgreSQL: a URL or `host=/run/postgresql dbname=portvakt`.
    #[arg(long)]
    db: String,
    /// An MQTT broker (mosquitto): mqtts://HOST:PORT (mqtt:// only to a loopback broker).
    #[arg(long, required_unless_present = "nats", conflicts_with = "nats")]
    broker: Option<String>,
    /// A NATS JetStream cluster instead: its client URLs, separated by `,`
    /// (`nats://HOST:4222` or `tls://HOST:4222`; with --ca, TLS is required whichever is
    /// written).
    #[arg(long)]
    nats: Option<String>,
    /// The broker's or cluster's CA certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// This collector's client certificate (PEM).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long = "cert-key")]
    cert_key: Option<PathBuf>,
    /// NATS: the stream holding every site's events.
    #[arg(long, default_value = "PORTVAKT_EVENTS")]
    stream: String,
    /// NATS: the durable consumer every collector instance shares.
    #[arg(long, default_value = "central")]
    consumer: String,
    /// NATS: the stream's replicas (3 on a three-node cluster).
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// The key that signs acknowledgements (64 hex digits; mode 600).
    #[arg(long = "signing-key")]
    signing_key: PathBuf,
    /// An audience whose records' personal parts this Central may open, and its reading
    /// key (`portvakt-admin keygen --reading`), as AUTHORITY=FILE; repeatable. Without
    /// one, every personal part is kept sealed as it came.
    #[arg(long = "reading-key")]
    reading_key: Vec<String>,
    /// Days the personal parts of the audiences in --reading-key stay (staff visits: the
    /// municipality's setting).
    #[arg(long = "keep-own-days", default_value_t = portvakt_central::retention::OWN_DAYS, value_parser = clap::value_parser!(u32).range(1..=3650))]
    keep_own_days: u32,
    /// Days every other audience's personal parts (kept sealed here) stay (residents'
    /// passages: the owner's 14 days).
    #[arg(long = "keep-others-days", default_value_t = portvakt_central::retention::OTHERS_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
    keep_others_days: u32,
    /// The MQTT client id; one per collector instance.
    #[arg(long = "client-id", default_value = "portvakt-central")]
    client_id: String,
    /// The first topic level under which gateways publish.
    #[arg(long, default_value = "portvakt")]
    root: String,
}

pub(crate) async fn collect(a: Collect) -> Result<String, Failure> {
    let Collect {
        db: url,
        broker: b,
        nats,
        ca,
        cert,
        cert_key,
        stream,
        consumer,
        replicas,
        signing_key,
        reading_key,
        keep_own_days,
        keep_others_days,
        client_id,
        root,
    } = a;
    let mut reading = keys::ReadingKeys::default();
    for spec in &reading_key {
        reading.add(spec).map_err(|e| fail(78, e))?;
    }
    let days = |n: u32| jiff::SignedDuration::from_hours(i64::from(n) * 24);
    let retention = portvakt_central::retention::Retention { own: days(keep_own_days), others: days(keep_others_days) };
    let key = keys::Keys { signing: keys::signing_key(&signing_key).map_err(|e| fail(78, e))?, reading };
    let mut client = db::connect(&url).await.map_err(db_failure)?;
    db::migrate(&mut client).await.map_err(db_failure)?;
    let engine = if let Some(urls) = nats {
        let cert = match (cert, cert_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(fail(64, "--cert and --cert-key go together")),
        };
        log::info!("collecting from the NATS cluster {urls} into PostgreSQL");
        Engine::Nats(nats::Cluster { urls, ca, cert, root, stream, consumer, replicas, name: client_id })
    } else {
        let b = b.unwrap_or_default();
        log::info!("collecting from {b} into PostgreSQL");
        Engine::Mqtt(broker(&b, (ca.as_ref(), cert.as_ref(), cert_key.as_ref()), client_id, root)?)
    };
    // One listener for the whole run: a SIGTERM that comes between two rounds, or while
    // PostgreSQL is being connected to again, is not lost (a new listener would not see it,
    // and the process would run on after its supervisor asked it to stop).
    let (told, asked) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        portvakt_central::stopping::requested().await;
        let _ = told.send(true);
    });
    // The alarm sweep and retention beside ingest, on a connection of their own.
    let (sweep_url, sweep_stop) = (url.clone(), stopped(asked.clone()));
    let keeper =
        tokio::spawn(async move { portvakt_central::housekeeping::run(&sweep_url, retention, sweep_stop).await });
    // It ends only when asked to stop; a panic in it ends the process, as it would have
    // when it ran in the collector's own task, so its supervisor starts it again.
    tokio::spawn(async move {
        if let Err(e) = keeper.await
            && e.is_panic()
        {
            log::error!(
                "the alarm sweep and retention stopped on a panic; the collector stops so that it is started again"
            );
            std::process::exit(70);
        }
    });
    // A lost database (restarted, failed over) is connected to again: what was not
    // committed was not acknowledged to the broker, which delivers it again.
    loop {
        let stop = stopped(asked.clone());
        let lost = match &engine {
            Engine::Nats(cluster) => match nats::run(cluster, &key, &mut client, stop).await {
                Ok(()) => return Ok(String::new()),
                Err(nats::NatsError::Db(e)) => e,
                Err(e) => return Err(fail(69, e.to_string())),
            },
            Engine::Mqtt(broker) => {
                let c = collector::Collector { broker: broker.clone(), keys: key.clone(), db: client };
                match collector::run(c, stop).await {
                    Ok(()) => return Ok(String::new()),
                    Err(collector::CollectError::Db(e)) => e,
                    Err(e) => return Err(fail(69, e.to_string())),
                }
            }
        };
        log::warn!("{lost}; connecting to PostgreSQL again");
        match reconnect(&url, &asked).await {
            Some(c) => client = c,
            None => return Ok(String::new()),
        }
    }
}

/// Resolves once the process has been asked to stop (at once if it already was).
async fn stopped(mut asked: tokio::sync::watch::Receiver<bool>) {
    let _ = asked.wait_for(|stop| *stop).await;
}

/// Where a collector takes records from.
enum Engine {
    Nats(nats::Cluster),
    Mqtt(collector::Broker),
}

/// Connects to PostgreSQL again, waiting 0.25, 0.5, 1, then 2 s between tries, so the
/// records held up by a restart flow again within about 2 s of its return; `None` when
/// stopped (SIGINT, SIGTERM) meanwhile.
async fn reconnect(url: &str, asked: &tokio::sync::watch::Receiver<bool>) -> Option<tokio_postgres::Client> {
    let mut wait = std::time::Duration::from_millis(250);
    loop {
        tokio::select! {
            () = stopped(asked.clone()) => return None,
            () = tokio::time::sleep(wait) => {}
        }
        match db::connect(url).await {
            Ok(c) => {
                log::info!("connected to PostgreSQL again");
                return Some(c);
            }
            Err(e) => {
                log::warn!("{e}; trying again in {} ms", wait.as_millis());
                wait = (wait * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
}
