//! What phones send over BLE, through the gateway's exchange: the input is a script of
//! fragments from a few phones (phone byte, milliseconds to wait, length byte, fragment).
//! Messages that reassemble also decode and re-encode to themselves, and no phone is
//! handed to the decision without a challenge made for it since its last one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::ble::exchange::{Service, Settings, Step};
use portvakt::ble::frame::Reassembler;
use portvakt::ble::limits::Rate;
use portvakt::ble::message::Message;

fuzz_target!(|data: &[u8]| {
    let mut service = Service::new(Settings {
        site: "test-site".into(),
        challenge_valid: jiff::SignedDuration::from_secs(5),
        max_exchanges: 4,
        rate: Rate { burst: 3, per_minute: 6 },
    });
    let mut plain = Reassembler::default();
    let mut now = *portvakt_fuzz::NOW;
    let mut counter = 0u8;
    let mut challenged = [false; 4];
    let mut rest = data;
    while let [phone, wait, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (fragment, next) = tail.split_at(n);
        rest = next;
        now += jiff::SignedDuration::from_millis(i64::from(*wait) * 40 - 2000);
        let who = usize::from(phone & 3);
        if phone & 0x80 != 0 {
            service.disconnected(&format!("phone-{who}"));
            challenged[who] = false;
        }
        let mono = portvakt::core::monotonic::Monotonic::from_origin(now.duration_since(*portvakt_fuzz::NOW));
        let step = service.on_fragment(&format!("phone-{who}"), fragment, now, mono, &mut || {
            counter = counter.wrapping_add(1);
            [counter; 16]
        });
        match step {
            Step::Send(Message::Challenge(_)) => challenged[who] = true,
            Step::Decide(claim) => {
                assert!(challenged[who], "a proof was taken with no challenge open: {claim:?}");
                challenged[who] = false;
            }
            _ => {}
        }
        if let Ok(Some((kind, body))) = plain.push(fragment) {
            if let Ok(m) = Message::decode(kind, &body) {
                assert_eq!(Message::decode(m.kind(), &m.body()), Ok(m), "a decoded message encodes back to itself");
            }
        }
    }
});
