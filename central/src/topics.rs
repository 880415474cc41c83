//! What a message is, from its MQTT topic (`portvakt/<site>/events`) or its NATS subject
//! (`portvakt.<site>.events`, the same topic as the cluster's MQTT listener maps it): a
//! site's audit record, its `status`, its `state`, or one door's state. Anything else is
//! not Central's. Pure.

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// `<root>/<site>/events`.
    Events(&'a str),
    /// `<root>/<site>/status`.
    Status(&'a str),
    /// `<root>/<site>/state`.
    State(&'a str),
    /// `<root>/<site>/door/<door>/state`: (site, door).
    Door(&'a str, &'a str),
}

/// Whether `s` is an id as topics and configs write them: `a-z 0-9 - _`, not empty.
pub(crate) fn id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Reads `topic` under `root`, its levels separated by `sep` (`/` for MQTT, `.` for NATS).
pub fn classify<'a>(root: &str, topic: &'a str, sep: char) -> Option<Topic<'a>> {
    let rest = topic.strip_prefix(root)?.strip_prefix(sep)?;
    let parts: Vec<&str> = rest.split(sep).collect();
    let t = match parts.as_slice() {
        [site, "events"] => Topic::Events(site),
        [site, "status"] => Topic::Status(site),
        [site, "state"] => Topic::State(site),
        [site, "door", door, "state"] if id(door) => Topic::Door(site, door),
        _ => return None,
    };
    let (Topic::Events(site) | Topic::Status(site) | Topic::State(site) | Topic::Door(site, _)) = t;
    id(site).then_some(t)
}

/// The MQTT topic filters (`+` for one level) or NATS subjects (`.` and `*`) carrying
/// fleet state.
pub fn state_filters(root: &str, sep: char, one: &str) -> Vec<String> {
    vec![
        format!("{root}{sep}{one}{sep}status"),
        format!("{root}{sep}{one}{sep}state"),
        format!("{root}{sep}{one}{sep}door{sep}{one}{sep}state"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_topic_is_told_apart_in_both_separators() {
        assert_eq!(classify("portvakt", "portvakt/storgatan-12/events", '/'), Some(Topic::Events("storgatan-12")));
        assert_eq!(classify("portvakt", "portvakt.storgatan-12.events", '.'), Some(Topic::Events("storgatan-12")));
        assert_eq!(classify("portvakt", "portvakt/s/status", '/'), Some(Topic::Status("s")));
        assert_eq!(classify("portvakt", "portvakt.s.state", '.'), Some(Topic::State("s")));
        assert_eq!(classify("portvakt", "portvakt/s/door/entrance/state", '/'), Some(Topic::Door("s", "entrance")));
    }

    #[test]
    fn acknowledgements_commands_other_roots_and_odd_ids_are_not_centrals() {
        for t in [
            "portvakt/s/events/ack",
            "portvakt/s/cmd/reload",
            "portvakt/a/b/events",
            "other/s/events",
            "portvakt//events",
            "portvakt/Storgatan/events",
            "portvakt/s/door/Entrance/state",
        ] {
            assert_eq!(classify("portvakt", t, '/'), None, "{t}");
        }
    }
}
