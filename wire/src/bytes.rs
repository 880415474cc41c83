//! The byte layout shared by bundles, revocation lists and phone certificates: big-endian
//! integers, strings as a u16 length and UTF-8, 32-byte keys and digests as raw bytes,
//! optional values behind a 0/1 byte. The reader is strict: every error names the byte
//! offset and what was expected, counts are checked against the bytes left before
//! anything is allocated, and nothing may follow the end.

/// Why bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {at}: {what}")]
pub struct WireError {
    /// Offset of the problem.
    pub at: usize,
    /// What was wrong.
    pub what: String,
}

/// Writes the layout.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// A byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// A u16.
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A u32.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// An i64.
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A string (at most 65 535 bytes; longer ones are cut at a character boundary).
    pub fn str(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(u16::try_from(end).unwrap_or(u16::MAX));
        self.0.extend_from_slice(&s.as_bytes()[..end]);
    }
    /// 32 raw bytes.
    pub fn bytes32(&mut self, b: &[u8; 32]) {
        self.0.extend_from_slice(b);
    }
    /// Raw bytes of a fixed size (nonces, signatures).
    pub fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// Length-prefixed bytes (u32).
    pub fn blob(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }
    /// An optional string.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    /// An optional i64.
    pub fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
        }
    }
}

/// Reads the layout.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// An error at the current offset.
    pub fn error(&self, what: impl Into<String>) -> WireError {
        WireError { at: self.pos, what: what.into() }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format!("{what}: needs {n} bytes, {} left", self.bytes.len() - self.pos)));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A byte.
    pub fn u8(&mut self, what: &str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    /// A u16.
    pub fn u16(&mut self, what: &str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A u32.
    pub fn u32(&mut self, what: &str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A u64.
    pub fn u64(&mut self, what: &str) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(a))
    }
    /// An i64.
    pub fn i64(&mut self, what: &str) -> Result<i64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(i64::from_be_bytes(a))
    }
    /// A string.
    pub fn str(&mut self, what: &str) -> Result<String, WireError> {
        let n = self.u16(what)?;
        let at = self.pos;
        let b = self.take(usize::from(n), what)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError { at, what: format!("{what}: not UTF-8") })
    }
    /// A string stored inline when short (ids, roles, door names).
    pub fn small_str(&mut self, what: &str) -> Result<smol_str::SmolStr, WireError> {
        let n = self.u16(what)?;
        let at = self.pos;
        let b = self.take(usize::from(n), what)?;
        std::str::from_utf8(b)
            .map(smol_str::SmolStr::new)
            .map_err(|_| WireError { at, what: format!("{what}: not UTF-8") })
    }

    /// 32 raw bytes.
    pub fn bytes32(&mut self, what: &str) -> Result<[u8; 32], WireError> {
        self.array(what)
    }
    /// `N` raw bytes.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    /// A time: i64 milliseconds since the Unix epoch, within what [`jiff::Timestamp`] holds.
    pub fn time(&mut self, what: &str) -> Result<jiff::Timestamp, WireError> {
        let v = self.i64(what)?;
        jiff::Timestamp::from_millisecond(v).map_err(|_| self.error(format!("{what}: {v} ms is not a valid time")))
    }
    /// An optional time (presence byte, then as [`Self::time`]).
    pub fn opt_time(&mut self, what: &str) -> Result<Option<jiff::Timestamp>, WireError> {
        match self.opt_i64(what)? {
            Some(v) => jiff::Timestamp::from_millisecond(v)
                .map(Some)
                .map_err(|_| self.error(format!("{what}: {v} ms is not a valid time"))),
            None => Ok(None),
        }
    }
    /// Length-prefixed bytes (u32).
    pub fn blob(&mut self, what: &str) -> Result<&'a [u8], WireError> {
        let n = self.u32(what)?;
        self.take(usize::try_from(n).unwrap_or(usize::MAX), what)
    }
    /// An optional string.
    pub fn opt_str(&mut self, what: &str) -> Result<Option<String>, WireError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.str(what).map(Some),
            other => Err(self.error(format!("{what}: presence byte {other}, expected 0 or 1"))),
        }
    }
    /// An optional i64.
    pub fn opt_i64(&mut self, what: &str) -> Result<Option<i64>, WireError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.i64(what).map(Some),
            other => Err(self.error(format!("{what}: presence byte {other}, expected 0 or 1"))),
        }
    }
    /// A count of items that take at least `min_item` bytes each; refused when the bytes
    /// left cannot hold that many (so a forged count cannot force a huge allocation).
    pub fn count(&mut self, what: &str, min_item: usize) -> Result<usize, WireError> {
        let n = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        if n.saturating_mul(min_item) > self.bytes.len() - self.pos {
            return Err(
                self.error(format!("{what}: {n} items cannot fit in the {} bytes left", self.bytes.len() - self.pos))
            );
        }
        Ok(n)
    }
    /// Succeeds only at the very end.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error(format!("{} unexpected bytes after the end", self.bytes.len() - self.pos)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind_of_value() {
        let mut w = Writer::default();
        w.u8(7);
        w.u64(u64::MAX);
        w.i64(-5);
        w.str("hemtjänst");
        w.opt_str(None);
        w.opt_i64(Some(9));
        w.bytes32(&[3; 32]);
        w.blob(&[1, 2]);
        let mut r = Reader::new(&w.0);
        assert_eq!(r.u8("a"), Ok(7));
        assert_eq!(r.u64("b"), Ok(u64::MAX));
        assert_eq!(r.i64("c"), Ok(-5));
        assert_eq!(r.str("d").as_deref(), Ok("hemtjänst"));
        assert_eq!(r.opt_str("e"), Ok(None));
        assert_eq!(r.opt_i64("f"), Ok(Some(9)));
        assert_eq!(r.bytes32("g"), Ok([3; 32]));
        assert_eq!(r.blob("h"), Ok(&[1u8, 2][..]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn truncation_bad_utf8_forged_counts_and_trailing_bytes_are_refused_with_offsets() {
        assert_eq!(Reader::new(&[0, 5, b'a']).str("holder").map_err(|e| e.at), Err(2));
        assert!(Reader::new(&[0, 2, 0xff, 0xfe]).str("holder").is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0]);
        assert!(r.count("entries", 40).unwrap_err().what.contains("cannot fit"));
        let mut r = Reader::new(&[1, 2]);
        let _ = r.u8("x");
        assert_eq!(r.finish().map_err(|e| e.at), Err(1));
        assert!(Reader::new(&[2]).opt_str("schedule").is_err());
    }
}
