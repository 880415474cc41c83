//! BLE framing. A message is `version (1) | type (1) | body length (u16, big-endian) |
//! body`; it crosses the radio in fragments that each fit one ATT write or notification
//! (the negotiated MTU less 3 bytes of ATT header). Every fragment starts with one byte:
//! bit 7 set means more fragments follow, bits 0–6 count the fragments of the message
//! from 0 (modulo 128). Reassembly is strict: the first fragment must carry the whole
//! message header, the declared length is checked against [`MAX_BODY`] before anything is
//! buffered, fragments must come in order, and the last one must end the message exactly.

/// The protocol version this gateway speaks.
pub const VERSION: u8 = 1;
/// Bytes of message header.
pub const HEADER: usize = 4;
/// Largest message body (a phone certificate carrying a revocation list fits).
pub const MAX_BODY: usize = 8192;
/// The smallest ATT MTU (Bluetooth Core, Vol 3, Part F, 3.2.8): 20 bytes of payload.
pub const MIN_MTU: usize = 23;
/// The largest ATT MTU.
pub const MAX_MTU: usize = 517;

const MORE: u8 = 0x80;
const INDEX: u8 = 0x7f;

/// Why fragments do not make a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A write with no bytes at all.
    #[error("empty fragment")]
    Empty,
    /// The first fragment is too short to hold the message header.
    #[error("first fragment has {0} message bytes, the header needs {HEADER}")]
    ShortHeader(usize),
    /// A version this gateway does not speak.
    #[error("protocol version {0}, this gateway speaks {VERSION}")]
    Version(u8),
    /// The declared body is larger than allowed.
    #[error("declared body of {0} bytes is larger than {MAX_BODY}")]
    TooLong(usize),
    /// A fragment out of order (lost, repeated or a new message started midway).
    #[error("fragment {found} where {expected} was due")]
    OutOfOrder {
        /// The index due.
        expected: u8,
        /// The index received.
        found: u8,
    },
    /// More bytes than the header declared.
    #[error("{found} bytes where the header declared {declared}")]
    Overrun {
        /// Header plus declared body.
        declared: usize,
        /// What arrived so far.
        found: usize,
    },
    /// The last fragment came before the declared length was reached.
    #[error("message ended after {found} of {declared} bytes")]
    Truncated {
        /// Header plus declared body.
        declared: usize,
        /// What arrived.
        found: usize,
    },
}

/// Builds the framed message: header and body.
pub fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a framed message into fragments for an ATT MTU (clamped to the legal range).
pub fn fragment(message: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let room = mtu.clamp(MIN_MTU, MAX_MTU) - 3 - 1;
    let chunks: Vec<&[u8]> = message.chunks(room).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let index = u8::try_from(i % 128).unwrap_or(0);
            let mut f = Vec::with_capacity(chunk.len() + 1);
            f.push(if i < last { MORE | index } else { index });
            f.extend_from_slice(chunk);
            f
        })
        .collect()
}

/// Collects fragments into whole messages (`kind`, `body`). After an error it starts
/// afresh with the next first fragment.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
    next: u8,
    declared: usize,
}

impl Reassembler {
    /// Whether a message is partly received.
    pub fn in_progress(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Takes one fragment; returns a whole message when this one completed it.
    pub fn push(&mut self, fragment: &[u8]) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
        let result = self.take(fragment);
        if !matches!(result, Ok(None)) {
            self.buf.clear();
            self.next = 0;
        }
        result
    }

    fn take(&mut self, fragment: &[u8]) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
        let (&head, data) = fragment.split_first().ok_or(FrameError::Empty)?;
        let index = head & INDEX;
        if index != self.next {
            return Err(FrameError::OutOfOrder { expected: self.next, found: index });
        }
        if index == 0 && self.buf.is_empty() {
            if data.len() < HEADER {
                return Err(FrameError::ShortHeader(data.len()));
            }
            if data[0] != VERSION {
                return Err(FrameError::Version(data[0]));
            }
            let body = usize::from(u16::from_be_bytes([data[2], data[3]]));
            if body > MAX_BODY {
                return Err(FrameError::TooLong(body));
            }
            self.declared = HEADER + body;
        }
        let found = self.buf.len() + data.len();
        if found > self.declared {
            return Err(FrameError::Overrun { declared: self.declared, found });
        }
        self.buf.extend_from_slice(data);
        self.next = (self.next + 1) & INDEX;
        let more = head & MORE != 0;
        match (more, found == self.declared) {
            (false, true) => {
                let kind = self.buf[1];
                Ok(Some((kind, self.buf.split_off(HEADER))))
            }
            (false, false) => Err(FrameError::Truncated { declared: self.declared, found }),
            (true, true) => Err(FrameError::Overrun { declared: self.declared, found: found + 1 }),
            (true, false) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reassemble(fragments: &[Vec<u8>]) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
        let mut r = Reassembler::default();
        let mut out = Ok(None);
        for f in fragments {
            out = r.push(f);
        }
        out
    }

    #[test]
    fn a_message_split_at_the_smallest_mtu_comes_back_whole() {
        let body: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let fragments = fragment(&frame(3, &body), MIN_MTU);
        assert!(fragments.iter().all(|f| f.len() <= MIN_MTU - 3));
        assert_eq!(fragments.len(), (HEADER + 1000).div_ceil(19));
        assert_eq!(reassemble(&fragments), Ok(Some((3, body))));
    }

    #[test]
    fn more_than_128_fragments_wrap_their_index() {
        let body = vec![7u8; 3000];
        let fragments = fragment(&frame(1, &body), MIN_MTU);
        assert!(fragments.len() > 128);
        assert_eq!(reassemble(&fragments), Ok(Some((1, body))));
    }

    #[test]
    fn truncated_oversized_reordered_and_foreign_versions_are_refused() {
        let msg = frame(1, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let fragments = fragment(&msg, MIN_MTU);
        assert_eq!(fragments.len(), 1);
        let mut cut = fragments[0].clone();
        cut.pop();
        assert_eq!(reassemble(&[cut]), Err(FrameError::Truncated { declared: 14, found: 13 }));
        let mut long = fragments[0].clone();
        long.push(0);
        assert_eq!(reassemble(&[long]), Err(FrameError::Overrun { declared: 14, found: 15 }));
        assert_eq!(reassemble(&[vec![0, 1, 1, 0x20, 0x01]]), Err(FrameError::TooLong(0x2001)));
        assert_eq!(reassemble(&[vec![0, 2, 1, 0, 0]]), Err(FrameError::Version(2)));
        assert_eq!(reassemble(&[vec![0, 1, 1]]), Err(FrameError::ShortHeader(2)));
        assert_eq!(reassemble(&[vec![]]), Err(FrameError::Empty));
        let many = fragment(&frame(1, &[0; 60]), MIN_MTU);
        assert_eq!(
            reassemble(&[many[0].clone(), many[2].clone()]),
            Err(FrameError::OutOfOrder { expected: 1, found: 2 })
        );
        assert_eq!(reassemble(&[many[1].clone()]), Err(FrameError::OutOfOrder { expected: 0, found: 1 }));
    }

    #[test]
    fn after_a_bad_fragment_the_next_message_is_read_afresh() {
        let mut r = Reassembler::default();
        assert!(r.push(&[0, 9]).is_err());
        assert!(!r.in_progress());
        assert_eq!(r.push(&fragment(&frame(4, &[1]), 100)[0]), Ok(Some((4, vec![1]))));
    }
}
