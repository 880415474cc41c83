//! Hexadecimal text for keys and digests, as installers and authorities exchange them.

use std::fmt::Write as _;

/// Lower-case hexadecimal of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Exactly 64 hexadecimal digits (any case, surrounding white space ignored) as 32 bytes.
pub fn decode32(text: &str) -> Option<[u8; 32]> {
    decode(text)?.try_into().ok()
}

/// Any even number of hexadecimal digits as bytes (surrounding white space ignored).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    t.chunks_exact(2).map(|pair| u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_32_bytes_and_refuses_anything_else() {
        let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7).unwrap_or(0));
        assert_eq!(decode32(&encode(&bytes)), Some(bytes));
        assert_eq!(decode32(&format!("  {}\n", encode(&bytes).to_uppercase())), Some(bytes));
        assert_eq!(decode32(&"ab".repeat(31)), None);
        assert_eq!(decode32(&"zz".repeat(32)), None);
        assert_eq!(decode32(&"é".repeat(32)), None);
        assert_eq!(decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode("0f1"), None);
        assert_eq!(decode("zz"), None);
    }
}
