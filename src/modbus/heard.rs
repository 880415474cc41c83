//! What an RTU line said during one request: the serial stream is wrapped so that the
//! bytes the crate's framing read are kept (at most one frame's worth). tokio-modbus drops
//! bytes that fail the CRC and waits for more, so a garbled reply looks like silence; with
//! what was heard the bus tells a unit that said nothing from one whose reply was garbled.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes kept: one RTU frame.
pub const KEPT: usize = 256;

/// The bytes heard since the last [`Heard::clear`] (shared with the wrapped stream).
#[derive(Debug, Clone, Default)]
pub struct Heard(Arc<Mutex<Vec<u8>>>);

impl Heard {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what was heard (before a request).
    pub fn clear(&self) {
        self.bytes().clear();
    }

    /// What was heard since the last clear, if anything: how it fails to be a frame.
    pub fn garbled(&self) -> Option<String> {
        let bytes = self.bytes();
        if bytes.is_empty() {
            return None;
        }
        Some(describe(&bytes))
    }
}

/// Says why these bytes are not a reply (they were heard, and no frame came of them).
pub fn describe(bytes: &[u8]) -> String {
    let n = bytes.len();
    if n < 4 {
        return format!("{n} byte(s) heard, too short for a frame");
    }
    let (body, tail) = bytes.split_at(n - 2);
    let sent = u16::from_le_bytes([tail[0], tail[1]]);
    let computed = crc16(body);
    if sent == computed {
        format!("{n} bytes heard with a valid CRC but not a reply to this request")
    } else {
        format!("{n} bytes heard, CRC 0x{sent:04X} where 0x{computed:04X} was due")
    }
}

/// The Modbus CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF), as sent low byte first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

/// A stream whose reads are also kept in a [`Heard`].
#[derive(Debug)]
pub struct Listened<T> {
    inner: T,
    heard: Heard,
}

impl<T> Listened<T> {
    /// Wraps `inner`; what it reads is kept in the returned [`Heard`] too.
    pub fn new(inner: T) -> (Self, Heard) {
        let heard = Heard::default();
        (Self { inner, heard: heard.clone() }, heard)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Listened<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = &buf.filled()[before..];
            let mut kept = self.heard.bytes();
            let room = KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&fresh[..fresh.len().min(room)]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Listened<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_the_modbus_one() {
        // Read holding registers 0..1 of unit 1: 01 03 00 00 00 01, CRC 84 0A (sent low first).
        assert_eq!(crc16(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x01]).to_le_bytes(), [0x84, 0x0A]);
    }

    #[test]
    fn a_reply_with_a_wrong_crc_is_described_as_such() {
        let said = describe(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0B]);
        assert!(said.contains("CRC 0x0B84 where 0x0A84 was due"), "{said}");
        assert!(describe(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A]).contains("valid CRC"));
        assert!(describe(&[0x01]).contains("too short"));
    }

    #[tokio::test]
    async fn what_the_stream_reads_is_heard_until_cleared() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut far, near) = tokio::io::duplex(64);
        let (mut listened, heard) = Listened::new(near);
        assert_eq!(heard.garbled(), None);
        far.write_all(&[1, 2, 3, 4, 5]).await.expect("write");
        let mut buf = [0u8; 5];
        listened.read_exact(&mut buf).await.expect("read");
        assert!(heard.garbled().is_some_and(|s| s.starts_with("5 bytes heard")));
        heard.clear();
        assert_eq!(heard.garbled(), None);
    }
}
