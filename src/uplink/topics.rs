//! The topic layout under a gateway's prefix (`portvakt/<site>` by default), and the
//! reading of inbound topics into what they mean. Pure.

/// The gateway's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

/// What an inbound topic is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A signed allowlist bundle from an authority.
    Bundle(String),
    /// A signed revocation list from an authority.
    Revocations(String),
    /// A command by name (`door.pulse`).
    Command(String),
    /// The collector's acknowledgement of events.
    EventsAck,
}

/// The longest authority or command name read from a topic.
const MAX_NAME: usize = 64;

fn name(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

impl Topics {
    /// Topics under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `online` / `offline`, retained; the last will.
    pub fn status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// Gateway health, retained.
    pub fn state(&self) -> String {
        format!("{}/state", self.prefix)
    }

    /// One door's state, retained.
    pub fn door_state(&self, door: &str) -> String {
        format!("{}/door/{door}/state", self.prefix)
    }

    /// Audit records, QoS 1, in sequence order.
    pub fn events(&self) -> String {
        format!("{}/events", self.prefix)
    }

    /// The reply to a command.
    pub fn reply(&self, command: &str) -> String {
        format!("{}/cmd/{command}/reply", self.prefix)
    }

    /// What the gateway subscribes to.
    pub fn subscriptions(&self) -> [String; 5] {
        [
            format!("{}/bundle/+", self.prefix),
            format!("{}/revocations/+", self.prefix),
            // An issuer's list: `revocations/<authority>/<delegation id>`.
            format!("{}/revocations/+/+", self.prefix),
            format!("{}/cmd/+", self.prefix),
            format!("{}/events/ack", self.prefix),
        ]
    }

    /// What an inbound topic means; `None` for anything else (ignored, logged).
    pub fn inbound(&self, topic: &str) -> Option<Inbound> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        if rest == "events/ack" {
            return Some(Inbound::EventsAck);
        }
        let (kind, tail) = rest.split_once('/')?;
        match kind {
            "bundle" => name(tail).map(Inbound::Bundle),
            "revocations" => match tail.split_once('/') {
                // An issuer's list, kept as `<authority>/<delegation id>`.
                Some((authority, delegation)) => {
                    name(authority).zip(name(delegation)).map(|(a, d)| Inbound::Revocations(format!("{a}/{d}")))
                }
                None => name(tail).map(Inbound::Revocations),
            },
            "cmd" => name(tail).map(Inbound::Command),
            _ => None,
        }
    }
}

/// Whether `topic` matches the subscription `filter` (MQTT `+` and `#` wildcards).
pub fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return !topic.starts_with('$'),
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_topics_are_read_under_the_prefix_only() {
        let t = Topics::new("portvakt/storgatan-12");
        assert_eq!(
            t.inbound("portvakt/storgatan-12/bundle/municipality"),
            Some(Inbound::Bundle("municipality".into()))
        );
        assert_eq!(t.inbound("portvakt/storgatan-12/revocations/owner"), Some(Inbound::Revocations("owner".into())));
        assert_eq!(
            t.inbound("portvakt/storgatan-12/revocations/kommunen/central-1"),
            Some(Inbound::Revocations("kommunen/central-1".into()))
        );
        assert_eq!(t.inbound("portvakt/storgatan-12/revocations/kommunen/central-1/more"), None);
        assert_eq!(t.inbound("portvakt/storgatan-12/revocations/kommunen/"), None);
        assert_eq!(t.inbound("portvakt/storgatan-12/cmd/door.pulse"), Some(Inbound::Command("door.pulse".into())));
        assert_eq!(t.inbound("portvakt/storgatan-12/events/ack"), Some(Inbound::EventsAck));
        assert_eq!(t.inbound("portvakt/storgatan-1/cmd/status"), None);
        assert_eq!(t.inbound("portvakt/storgatan-12/cmd/status/reply"), None);
        assert_eq!(t.inbound("portvakt/storgatan-12/cmd/"), None);
        assert_eq!(t.inbound("portvakt/storgatan-12/door/entrance/state"), None);
    }

    #[test]
    fn wildcards_match_as_mqtt_says() {
        assert!(matches("a/+/c", "a/b/c"));
        assert!(!matches("a/+/c", "a/b/d"));
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("a/#", "a"));
        assert!(matches("#", "x/y"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }
}
