//! The credentials the bundle and start-up benchmarks load: `n` entries over the example
//! building's three doors, a third each PINs, tags and phone keys, in six roles.

use portvakt::core::credential::{PhoneKey, Token};
use portvakt::core::secret::CredentialKey;
use portvakt::credentials::bundle::Entry;

/// `n` bundle entries, their PINs and tags digested with `key`.
#[allow(clippy::cast_possible_truncation)]
pub fn entries(n: usize, key: &CredentialKey) -> Vec<Entry> {
    let roles = ["resident", "resident", "resident", "home_care", "contractor", "property_staff"];
    let door_sets: [&[&str]; 3] = [&["entrance", "rubbish", "laundry"], &["entrance", "rubbish"], &["rubbish"]];
    (0..n)
        .map(|i| Entry {
            id: format!("c{i:06}").into(),
            holder: format!("holder-{:06}", i / 2).into(),
            role: roles[i % roles.len()].into(),
            token: match i % 3 {
                0 => Token::Pin(key.pin(&format!("{:08}", 10_000_000 + i))),
                1 => Token::Tag(key.tag(&format!("{:014X}", 0x04_0000_0000_0000u64 + i as u64))),
                _ => {
                    let mut k = [7u8; 32];
                    k[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    Token::Phone(PhoneKey(k))
                }
            },
            doors: door_sets[i % door_sets.len()].iter().map(|d| (*d).into()).collect(),
            schedule: None,
            valid_from: None,
            valid_until: None,
        })
        .collect()
}
