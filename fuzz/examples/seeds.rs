//! Writes a starting corpus for each fuzz target into `fuzz/seeds/<target>/`: well-formed
//! inputs built with the library's own encoders (documents of the test site, BLE
//! exchanges, keypad and input replies), so the fuzzers begin past the first checks.
//! Usage, in fuzz/: `cargo run --example seeds -- seeds` (the files are committed; run it
//! again when an encoding changes).

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use portvakt::admin::csv_import::{bookings, entries};
use portvakt::ble::frame::fragment;
use portvakt::ble::message::{Message, Open, Proof};
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::revocation::RevocationList;
use portvakt::modbus::keypad::{Entered, encode_poll};
use portvakt_fuzz::{KOMMUNEN, NOW, SITE, site_dir};

const STAFF: &str = "id,holder,role,kind,secret,doors,schedule,valid_from,valid_until\n\
care-1,hemtjanst-1,home_care,pin,482913,entrance,,,\n\
care-2,hemtjanst-2,home_care,tag,04A1B2C3,entrance;rubbish,night,,2027-06-30T22:00\n\
care-3,hemtjanst-3,home_care,phone,9a6039b8c523498448cb5082c92da3d76762a8c5a18a31cb492ac9fd297b5a5a,entrance,,2026-11-01T00:00,\n";

const BOOKINGS: &str = "holder,door,start,end\nanna-1101,laundry,2026-11-24T07:00,2026-11-24T10:00\n";

const POLICY: &str = "[schedules.late]\nwindows = [{ days = \"mon-sun\", from = \"06:00\", to = \"24:00\" }]\n\
[door_code]\nschedule = \"late\"\n[free_passage]\nentrance = \"\"\n";

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let folder = dir.join(target);
    std::fs::create_dir_all(&folder).expect("the corpus folder can be made");
    std::fs::write(folder.join(name), bytes).expect("the seed can be written");
}

fn with_pick(pick: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![pick];
    v.extend_from_slice(body);
    v
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    let site = &*SITE;
    let now = *NOW;

    for name in ["portvakt.toml"] {
        write(&dir, "config", name, &std::fs::read(site_dir().join(name)).expect("the test site's config"));
    }
    write(&dir, "config", "example.toml", include_bytes!("../../config/portvakt.toml"));
    write(&dir, "csv_import", "staff.csv", STAFF.as_bytes());
    write(&dir, "csv_import", "bookings.csv", BOOKINGS.as_bytes());

    let mut bundle = Bundle {
        authority: "kommunen".into(),
        site: site.site.id.to_string(),
        version: 4,
        issued_at: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(24 * 30),
        entries: entries(STAFF, &site.credential_key, &site.policy.tz).expect("the staff seed imports"),
        bookings: Vec::new(),
        policy: None,
    };
    write(&dir, "bundle", "kommunen", &with_pick(1, &bundle.encode()));
    write(&dir, "mqtt_update", "bundle", &with_pick(0, &seal(DocType::Bundle, &bundle.encode(), &KOMMUNEN)));
    bundle.authority = "owner".into();
    bundle.bookings = bookings(BOOKINGS, &site.policy.tz).expect("the booking seed imports");
    bundle.policy = Some(portvakt::config::owner_policy(POLICY).expect("the policy seed reads"));
    write(&dir, "bundle", "owner", &with_pick(0, &bundle.encode()));

    let list = RevocationList {
        authority: "kommunen".into(),
        site: site.site.id.to_string(),
        sequence: 7,
        issued_at: now,
        ids: vec!["care-2".into()],
        keys: vec![[9; 32]],
    };
    let sealed_list = seal(DocType::Revocations, &list.encode(), &KOMMUNEN);
    write(&dir, "revocations", "kommunen", &with_pick(1, &list.encode()));
    write(&dir, "mqtt_update", "revocations", &with_pick(1, &sealed_list));
    let ack = portvakt::uplink::ack::AckBody {
        site: site.site.id.to_string(),
        epoch: None,
        through: 42,
        hash: "ab".repeat(32),
    };
    let ack = portvakt::uplink::ack::seal(&ack, &portvakt_fuzz::COLLECTOR);
    write(&dir, "mqtt_update", "ack", &with_pick(2, &ack));

    let cert = PhoneCertificate {
        authority: "kommunen".into(),
        site: "*".into(),
        id: "cert-1".into(),
        holder: "hemtjanst-9".into(),
        role: "home_care".into(),
        phone_key: [7; 32],
        doors: vec!["entrance".into()],
        not_before: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(8),
        revocations: Some(sealed_list),
    };
    write(&dir, "certificate", "kommunen", &with_pick(1, &cert.encode()));

    let pulse = format!(
        r#"{{"id":"c1","site":"test-site","authority":"owner","cmd":"door.pulse","issued_at":"{now}","args":{{"door":"entrance"}}}}"#
    );
    write(&dir, "mqtt_command", "pulse-signed", &[&[0u8, 1][..], pulse.as_bytes()].concat());
    let mode = pulse
        .replace("door.pulse", "door.mode")
        .replace(r#""door":"entrance""#, r#""door":"entrance","mode":"lockdown""#);
    write(&dir, "mqtt_command", "mode-signed", &[&[1u8, 1][..], mode.as_bytes()].concat());
    write(&dir, "mqtt_command", "status", &[&[2u8, 0][..], br#"{"id":"s1"}"#].concat());
    write(&dir, "mqtt_command", "audit", &[&[3u8, 0][..], br#"{"id":"a1","args":{"since":1,"limit":5}}"#].concat());

    // A BLE exchange from one phone: an open request (with a certificate) in 20-byte
    // fragments, then a proof, each as (phone, wait, length, fragment).
    let open = Message::Open(Open {
        tag: [1; 8],
        door: "entrance".into(),
        key: portvakt_phone::PhonePublicKey::Ed25519([7; 32]),
        certificate: Some(cert.encode()),
    });
    let proof = Message::Proof(Proof { door: "entrance".into(), signature: [3; 64] });
    let mut script = Vec::new();
    for m in [open, proof] {
        for f in fragment(&m.encode(), 23) {
            script.extend_from_slice(&[0, 50, u8::try_from(f.len()).expect("a fragment fits a byte")]);
            script.extend_from_slice(&f);
        }
    }
    write(&dir, "ble_frames", "exchange", &script);

    // Keypad replies (RTU: unit, function 4, byte count, registers, CRC is the fuzzer's
    // to find; TCP: MBAP header with transaction 1) and a discrete-input reply.
    let regs = encode_poll(9, 1, Some((3, &Entered::Digits("4711".into()))));
    let data: Vec<u8> = regs.iter().flat_map(|r| r.to_be_bytes()).collect();
    let mut rtu = vec![0u8, 7, 4, 22];
    rtu.extend_from_slice(&data);
    let crc = crc16(&rtu[1..]);
    rtu.extend_from_slice(&crc.to_le_bytes());
    write(&dir, "modbus_reply", "keypad-rtu", &rtu);
    let mut tcp = vec![1u8, 0, 1, 0, 0, 0, 25, 7, 4, 22];
    tcp.extend_from_slice(&data);
    write(&dir, "modbus_reply", "keypad-tcp", &tcp);
    write(&dir, "modbus_reply", "inputs-tcp", &[0x33, 0, 1, 0, 0, 0, 4, 7, 2, 1, 0b101]);
}

/// Modbus RTU's CRC-16 (polynomial 0xA001, initial 0xFFFF), sent low byte first.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF_u16, |crc, b| {
        (0..8).fold(crc ^ u16::from(*b), |c, _| if c & 1 == 1 { (c >> 1) ^ 0xA001 } else { c >> 1 })
    })
}
