//! Pure byte codecs for everything on disk: no I/O. All integers are big-endian, exactly as
//! Tahoe-LAFS 1.20 writes them. docs/format.md has the byte diagrams.
//!
//! Decoding goes through [`Cursor`], which turns short input into an error; encoding writes
//! into caller buffers of fixed size.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![deny(clippy::little_endian_bytes, clippy::host_endian_bytes)]

pub mod immutable;
pub mod journal;
pub mod lease;
pub mod mutable;

use crate::error::Corruption;

pub use crate::types::ShareKind;

/// Bytes of a container's start that [`sniff`] needs to see.
pub const SNIFF_SIZE: usize = 32;

/// Tells a container's kind from its first bytes, as Tahoe's `is_valid_header` checks
/// do: a mutable magic, or an immutable version number of 1 or 2. `None` for anything
/// else (including files shorter than the check needs).
#[must_use]
pub fn sniff(start: &[u8]) -> Option<ShareKind> {
    if let Some(magic) = start.get(..SNIFF_SIZE) {
        if mutable::MutableVersion::from_magic(magic).is_some() {
            return Some(ShareKind::Mutable);
        }
    }
    match start.get(..4) {
        Some([0, 0, 0, 1 | 2]) => Some(ShareKind::Immutable),
        _ => None,
    }
}

/// A bounds-checked reader over untrusted bytes.
#[derive(Debug)]
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// Starts reading at the beginning of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Takes the next `n` bytes, or fails with `short` if fewer remain.
    ///
    /// # Errors
    ///
    /// `short` when fewer than `n` bytes remain.
    pub fn take(&mut self, n: usize, short: Corruption) -> Result<&'a [u8], Corruption> {
        if n > self.rest.len() {
            return Err(short);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    ///
    /// # Errors
    ///
    /// `short` when fewer than `N` bytes remain.
    pub fn array<const N: usize>(&mut self, short: Corruption) -> Result<[u8; N], Corruption> {
        let bytes = self.take(N, short)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Takes a big-endian `u32`.
    ///
    /// # Errors
    ///
    /// `short` when fewer than 4 bytes remain.
    pub fn u32(&mut self, short: Corruption) -> Result<u32, Corruption> {
        self.array(short).map(u32::from_be_bytes)
    }

    /// Takes a big-endian `u64`.
    ///
    /// # Errors
    ///
    /// `short` when fewer than 8 bytes remain.
    pub fn u64(&mut self, short: Corruption) -> Result<u64, Corruption> {
        self.array(short).map(u64::from_be_bytes)
    }
}

/// A writer into a caller's fixed buffer; encoders size their buffers exactly, so a short
/// buffer is a bug caught by the tests, reported as `false` from [`Writer::finish`].
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.pos.saturating_add(bytes.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
            }
            None => self.overflow = true,
        }
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    /// Whether everything fitted and the buffer was filled exactly.
    pub(crate) fn finish(&self) -> bool {
        !self.overflow && self.pos == self.buf.len()
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reports_short_input() {
        let mut c = Cursor::new(&[0, 0, 0, 7, 1]);
        assert_eq!(c.u32(Corruption::TruncatedHeader), Ok(7));
        assert_eq!(
            c.u32(Corruption::TruncatedHeader),
            Err(Corruption::TruncatedHeader)
        );
        assert_eq!(c.take(1, Corruption::TruncatedLease), Ok(&[1u8][..]));
        assert_eq!(
            c.take(usize::MAX, Corruption::TruncatedLease),
            Err(Corruption::TruncatedLease)
        );
    }
}
