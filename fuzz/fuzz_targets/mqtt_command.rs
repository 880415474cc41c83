//! Commands from the broker (`cmd/<name>`): the first byte picks the topic's name, the
//! second whether the rest is sent as it is or sealed as a signed command by one of the
//! test site's authorities, so the checks after the signature are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::uplink::command::{Checks, ReplayMemory, read};

const NAMES: [&str; 6] = ["door.pulse", "door.mode", "status", "audit.query", "reload", "door.open"];

fuzz_target!(|data: &[u8]| {
    let [pick, how, rest @ ..] = data else { return };
    let site = &*portvakt_fuzz::SITE;
    let doors: Vec<String> = site.policy.doors.iter().map(|d| d.id.to_string()).collect();
    let checks = Checks {
        site: site.site.id.as_str(),
        authorities: &site.authorities,
        doors: &doors,
        now: *portvakt_fuzz::NOW,
        max_age: jiff::SignedDuration::from_mins(5),
        clock_trusted: true,
    };
    let payload =
        if how & 1 == 1 { seal(DocType::Command, rest, portvakt_fuzz::signer(how >> 1)) } else { rest.to_vec() };
    let name = NAMES[usize::from(*pick) % NAMES.len()];
    let mut memory = ReplayMemory::default();
    let first = read(name, &payload, &checks, &mut memory);
    if first.is_ok() && how & 1 == 1 {
        // The same signed command twice: the second is a replay.
        let again = read(name, &payload, &checks, &mut memory);
        assert!(again.is_err_and(|r| r.code == "replayed"), "a signed command was accepted twice");
    }
});
