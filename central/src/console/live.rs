//! What changed, as it happens: a connection that LISTENs on `portvakt_fleet`, on which
//! the collectors NOTIFY a site's name whenever its status, state, doors, alarms or
//! records change; each name marks the site's kept line changed, then goes to every open
//! event stream (`/events`). Connects again after losing PostgreSQL, forgetting every kept
//! line (what was notified meanwhile is not known).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use super::lines::Lines;

/// The channel the collectors notify (`fleet::notify`).
pub const CHANNEL: &str = crate::fleet::CHANNEL;

/// Sent on the channel instead of a site's name when changes may have been missed while
/// the listener connected again (no site is called that): every open page reads all it
/// shows again.
pub const MISSED: &str = "";

/// Starts listening; every notified site name marks its line in `lines` changed and is
/// sent on the returned channel.
pub fn listen(url: String, lines: Arc<Lines>) -> broadcast::Sender<String> {
    let (tx, _) = broadcast::channel(1024);
    let changes = tx.clone();
    tokio::spawn(async move {
        loop {
            // Not listening from here until LISTEN is answered: nothing kept is trusted.
            lines.forget_all();
            if let Err(e) = once(&url, &changes, &lines).await {
                log::warn!("console: listening for changes: {e}; again in 2 s");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    tx
}

async fn once(url: &str, changes: &broadcast::Sender<String>, lines: &Lines) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection must be driven for LISTEN to be answered, and to hear notifications.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log::warn!("console: {e}");
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // What was read before now may have changed before this connection heard anything:
    // nothing kept is trusted, and every open page is told to read all it shows again.
    lines.forget_all();
    let _ = changes.send(MISSED.to_owned());
    while let Some(site) = rx.recv().await {
        lines.changed(&site);
        let _ = changes.send(site);
    }
    driver.abort();
    Ok(())
}
