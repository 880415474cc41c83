//! The broker's URL, read the same by the gateway (`uplink.broker`) and by Central's
//! collector (`--broker`): `mqtts://host:port` (8883 by default), or `mqtt://` — which both
//! accept only towards this machine.

use std::net::IpAddr;

/// Splits `mqtts://host:port` (port defaults to 8883, or 1883 for `mqtt://`).
pub fn parse_broker(url: &str) -> Result<(bool, String, u16), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        return Err(format!("\"{url}\" is not a broker URL; write mqtts://host:8883"));
    };
    let rest = rest.trim_end_matches('/');
    // `[v6 address]:port`, `host:port`, or a host alone.
    let (host, port) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((h, tail)) => (h, tail.strip_prefix(':')),
        None => match rest.rsplit_once(':') {
            Some((h, port)) => (h, Some(port)),
            None => (rest, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("\"{p}\" in \"{url}\" is not a port"))?,
        None if tls => 8883,
        None => 1883,
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!("\"{url}\" has no host"));
    }
    Ok((tls, host.to_owned(), port))
}

/// Whether `host` names this machine (`localhost` or a loopback address).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
