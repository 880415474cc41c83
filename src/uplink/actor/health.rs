//! What the uplink says of the gateway: the retained `state` (when its significant part
//! changed, or the state interval passed) and each door's state, and the farewell at a
//! stop or before connecting anew — a last drain, a last `state` with `running: false`
//! that keeps the last figures, then the retained `offline`.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use rumqttc::{Event, Outgoing};

use super::{Conn, LAST_DRAIN, Uplink, send};
use crate::site::reach;
use crate::uplink::payload;

impl Uplink {
    /// Publishes door states that changed, and the gateway state when its significant part
    /// changed or the state interval passed (`force`: everything, after a connect).
    pub(super) async fn publish_state(&mut self, conn: &mut Conn, force: bool) {
        let report = reach::status(&self.reach).await;
        let state = payload::state(&report, Timestamp::now());
        if report.gateway.is_some() {
            self.last_running = Some(report.clone());
        }
        let key = state.significant();
        // Every `state_interval` the door states go again with the state: a retained
        // message a broker acknowledged but did not keep (a NATS stream electing a leader
        // after a node died) is put right then, not only at the door's next change.
        let refresh = conn.state.as_ref().is_some_and(|(_, at)| at.elapsed() >= conn.up.state_every.unsigned_abs());
        if let Some(g) = &report.gateway {
            publish_doors(conn, &g.doors, force || refresh);
        }
        let due = match &conn.state {
            None => true,
            Some((k, _)) => *k != key || refresh,
        };
        if force || due {
            send(conn, &conn.topics.state(), true, serde_json::to_vec(&state).unwrap_or_default());
            conn.state = Some((key, Instant::now()));
        }
    }

    /// At stop (`stopping`) or before connecting anew: drain what the outbox has
    /// (briefly), confirm, publish door states that changed (at stop also the gateway state,
    /// saying it stopped), say `offline`, disconnect.
    pub(super) async fn farewell(&mut self, conn: &mut Conn, stopping: bool) {
        if conn.connected {
            let deadline = tokio::time::Instant::now() + LAST_DRAIN;
            self.fill(conn).await;
            while conn.window.in_flight() > 0 || *conn.head.borrow() > conn.window.next_after() {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    Ok(()) = conn.head.changed() => self.fill(conn).await,
                    event = conn.events.poll() => match event {
                        Ok(e) => self.on_event(conn, e).await,
                        Err(_) => break,
                    },
                }
            }
            self.flush_confirms(conn);
            // Door states as they are now (retained), so they are not left a look behind.
            self.publish_state(conn, false).await;
            if stopping {
                let mut report = reach::status(&self.reach).await;
                if let Some(last) = &self.last_running {
                    report = report.keeping(last);
                }
                let mut state = payload::state(&report, Timestamp::now());
                state.running = false;
                send(conn, &conn.topics.state(), true, serde_json::to_vec(&state).unwrap_or_default());
            }
            send(conn, &conn.topics.status(), true, b"offline".to_vec());
            let _ = conn.client.try_disconnect();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    event = conn.events.poll() => match event {
                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                        Ok(e) => self.on_event(conn, e).await,
                    },
                }
            }
        }
        self.flush_confirms(conn);
        self.set_status(|s| s.connected = false);
    }
}

/// Publishes the doors whose message differs from the one last published on this
/// connection (every door when `force`).
pub(super) fn publish_doors(conn: &mut Conn, doors: &[crate::gateway::handle::DoorStatus], force: bool) {
    for d in doors {
        let msg = payload::door(d);
        if force || conn.doors.get(&d.door) != Some(&msg) {
            let body = serde_json::to_vec(&msg).unwrap_or_default();
            send(conn, &conn.topics.door_state(&d.door), true, body);
            conn.doors.insert(d.door.clone(), msg);
        }
    }
}
