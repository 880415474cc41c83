//! A record's personal part sealed to its audience (`docs/audit.md`, Personal parts):
//! HPKE base mode (RFC 9180) with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
//! ChaCha20-Poly1305, to the audience's reading public key. The plaintext is the salt and
//! the part's canonical bytes; the associated data binds it to its site, sequence number
//! and commitment, and whoever opens it checks the commitment, so a part moved to
//! another record never opens as that record's. The caller brings the randomness (32
//! bytes from the operating system), so this stays pure.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use sha2::{Digest as _, Sha256};

use crate::chain::{Personal, Salt, commitment};

/// HPKE's `info`: what the keys are for.
const INFO: &[u8] = b"portvakt.personal.v1";

/// The encapsulated key's length (an X25519 public key).
const ENC_LEN: usize = 32;

/// Why a part could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The reading public key is not an X25519 key.
    #[error("the reading key is not an X25519 public key")]
    BadKey,
    /// Too short, not sealed to this key, or altered.
    #[error("the personal part does not open with this reading key (another audience's, or altered)")]
    DoesNotOpen,
    /// It opened, but is not a personal part, or not this record's (its commitment differs).
    #[error("the personal part opened but is not this record's")]
    NotThisRecords,
}

/// A personal part as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Its salt.
    pub salt: Salt,
    /// The holder, if any.
    pub holder: Option<String>,
    /// The credential id, if any.
    pub credential: Option<String>,
}

/// Randomness handed in by the caller, stretched with SHA-256 if more is asked for.
struct Given {
    seed: [u8; 32],
    counter: u64,
}

impl rand_core::TryRng for Given {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            let block: [u8; 32] = Sha256::new()
                .chain_update(b"portvakt.personal.rng\0")
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize()
                .into();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Given {}

fn aad(site: &str, seq: u64, commitment: &[u8; 32]) -> Vec<u8> {
    let mut out = b"portvakt.personal.v1\0".to_vec();
    out.extend_from_slice(site.as_bytes());
    out.push(0);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(commitment);
    out
}

/// A reading key pair from 32 random bytes: (private, public).
pub fn reading_pair(random: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (private, public) = X25519HkdfSha256::derive_keypair(random);
    (private.to_bytes().into(), public.to_bytes().into())
}

/// The public half of a reading key.
pub fn reading_public(private: &[u8; 32]) -> Option<[u8; 32]> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private).ok()?;
    Some(X25519HkdfSha256::sk_to_pk(&sk).to_bytes().into())
}

/// Seals record `seq`'s personal part (with its salt) of `site` to `reading_key`;
/// `random` is 32 fresh random bytes. The sealed bytes are the encapsulated key and the
/// ciphertext.
pub fn seal(
    reading_key: &[u8; 32],
    site: &str,
    seq: u64,
    salt: &Salt,
    part: &Personal<'_>,
    random: &[u8; 32],
) -> Result<Vec<u8>, SealError> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(reading_key).map_err(|_| SealError::BadKey)?;
    let mut plain = salt.to_vec();
    plain.extend_from_slice(&part.bytes());
    let c = commitment(salt, part);
    let mut rng = Given { seed: *random, counter: 0 };
    let (enc, ct) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        INFO,
        &plain,
        &aad(site, seq, &c),
        &mut rng,
    )
    .map_err(|_| SealError::BadKey)?;
    let mut out = enc.to_bytes().to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens record `seq`'s sealed part with `reading_private`, and checks it against the
/// record's `commitment`.
pub fn open(
    reading_private: &[u8; 32],
    site: &str,
    seq: u64,
    commitment_in_header: &[u8; 32],
    sealed: &[u8],
) -> Result<Opened, SealError> {
    if sealed.len() < ENC_LEN {
        return Err(SealError::DoesNotOpen);
    }
    let sk =
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(reading_private).map_err(|_| SealError::DoesNotOpen)?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&sealed[..ENC_LEN])
        .map_err(|_| SealError::DoesNotOpen)?;
    let plain = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &enc,
        INFO,
        &sealed[ENC_LEN..],
        &aad(site, seq, commitment_in_header),
    )
    .map_err(|_| SealError::DoesNotOpen)?;
    let opened = read_plain(&plain).ok_or(SealError::NotThisRecords)?;
    let part = Personal { holder: opened.holder.as_deref(), credential: opened.credential.as_deref() };
    if commitment(&opened.salt, &part) != *commitment_in_header {
        return Err(SealError::NotThisRecords);
    }
    Ok(opened)
}

/// The salt and the part from their bytes (`Personal::bytes` after 16 bytes of salt).
fn read_plain(plain: &[u8]) -> Option<Opened> {
    let salt: Salt = plain.get(..16)?.try_into().ok()?;
    let rest = plain.get(16..)?.strip_prefix(b"portvakt.personal.v1\0".as_slice())?;
    let (holder, rest) = read_field(rest)?;
    let (credential, rest) = read_field(rest)?;
    rest.is_empty().then_some(Opened { salt, holder, credential })
}

fn read_field(b: &[u8]) -> Option<(Option<String>, &[u8])> {
    match b.first()? {
        0 => Some((None, &b[1..])),
        1 => {
            let len = usize::try_from(u32::from_be_bytes(b.get(1..5)?.try_into().ok()?)).ok()?;
            let text = std::str::from_utf8(b.get(5..5 + len)?).ok()?.to_owned();
            Some((Some(text), &b[5 + len..]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part() -> Personal<'static> {
        Personal { holder: Some("hemtjanst-natt-5"), credential: Some("care-5") }
    }

    #[test]
    fn a_sealed_part_opens_with_its_audiences_key_only_and_for_its_own_record_only() {
        let (private, public) = reading_pair(&[1; 32]);
        assert_eq!(reading_public(&private), Some(public));
        let (other_private, _) = reading_pair(&[2; 32]);
        let salt = [9; 16];
        let c = commitment(&salt, &part());
        let sealed = seal(&public, "storgatan-12", 42, &salt, &part(), &[3; 32]).unwrap();
        let opened = open(&private, "storgatan-12", 42, &c, &sealed).unwrap();
        assert_eq!(opened, Opened { salt, holder: Some("hemtjanst-natt-5".into()), credential: Some("care-5".into()) });
        assert_eq!(open(&other_private, "storgatan-12", 42, &c, &sealed), Err(SealError::DoesNotOpen));
        assert_eq!(open(&private, "storgatan-12", 43, &c, &sealed), Err(SealError::DoesNotOpen), "another record");
        assert_eq!(open(&private, "annan-gata-3", 42, &c, &sealed), Err(SealError::DoesNotOpen), "another site");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&private, "storgatan-12", 42, &c, &altered), Err(SealError::DoesNotOpen));
        assert_eq!(open(&private, "storgatan-12", 42, &c, &sealed[..10]), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn the_same_part_sealed_twice_reads_differently_and_holds_no_name_in_clear() {
        let (_, public) = reading_pair(&[1; 32]);
        let a = seal(&public, "s", 1, &[9; 16], &part(), &[3; 32]).unwrap();
        let b = seal(&public, "s", 1, &[9; 16], &part(), &[4; 32]).unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(6).any(|w| w == b"care-5"), "the credential id is not in clear");
        assert_eq!(seal(&[0; 32], "s", 1, &[9; 16], &part(), &[3; 32]), Err(SealError::BadKey), "a low-order key");
    }
}
