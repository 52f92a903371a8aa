//! The redo journal that makes multi-step mutable container updates atomic. A record of our
//! own design, so it has a magic, a version, a size and a checksum over a stated range.
//!
//! The journal sits past the end of the container (both the old end and the new one), at
//! the end of the same file, while an update is in flight:
//!
//! ```text
//! [journal_start]  entries: u8 kind | u64 offset | u64 length | payload (kind 0 only)
//!                  kind 0 = write `length` payload bytes at `offset`
//!                  kind 1 = write `length` zero bytes at `offset`
//! [end - 72]       footer:
//!   0x00 [8]  magic "TSJRNL\r\n"
//!   0x08 u32  version (1)
//!   0x0c u32  number of entries
//!   0x10 u64  journal_start (offset of the first entry)
//!   0x18 u64  body length (bytes of entries)
//!   0x20 u64  target length (the file length once the update is applied)
//!   0x28 [32] SHA-256 over the entries followed by footer bytes 0x00..0x28
//! ```
//!
//! A Tahoe mutable container ends exactly at the end of its last extra lease, and clients
//! control no byte after it, so a valid footer at the end of the file can only be ours.

use super::{Cursor, Writer};
use crate::error::Corruption;

/// The footer's magic.
pub const MAGIC: [u8; 8] = *b"TSJRNL\r\n";
/// The journal format version.
pub const VERSION: u32 = 1;
/// Bytes of the footer.
pub const FOOTER_SIZE: u64 = 72;
/// Bytes of an entry header.
pub const ENTRY_HEADER_SIZE: usize = 17;
/// Bytes of the footer covered by the checksum.
pub const FOOTER_CHECKED: usize = 40;

/// What an entry writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// The payload bytes that follow.
    Bytes,
    /// Zeros; no payload is stored.
    Zeros,
}

/// One entry header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    /// What the entry writes.
    pub kind: EntryKind,
    /// Where in the container.
    pub offset: u64,
    /// How many bytes.
    pub length: u64,
}

impl EntryHeader {
    /// Encodes the entry header.
    #[must_use]
    pub fn encode(&self) -> [u8; ENTRY_HEADER_SIZE] {
        let mut out = [0u8; ENTRY_HEADER_SIZE];
        let mut w = Writer::new(&mut out);
        w.put(&[match self.kind {
            EntryKind::Bytes => 0,
            EntryKind::Zeros => 1,
        }])
        .u64(self.offset)
        .u64(self.length);
        debug_assert!(w.finish());
        out
    }

    /// Decodes an entry header.
    ///
    /// # Errors
    ///
    /// [`Corruption::BadRecord`] for short input or an unknown kind.
    pub fn decode(bytes: &[u8]) -> Result<Self, Corruption> {
        let mut c = Cursor::new(bytes);
        let bad = Corruption::BadRecord;
        let kind = match c.array::<1>(bad)? {
            [0] => EntryKind::Bytes,
            [1] => EntryKind::Zeros,
            _ => return Err(bad),
        };
        Ok(Self {
            kind,
            offset: c.u64(bad)?,
            length: c.u64(bad)?,
        })
    }

    /// Bytes this entry occupies in the journal.
    #[must_use]
    pub fn stored_size(&self) -> u64 {
        ENTRY_HEADER_SIZE as u64
            + match self.kind {
                EntryKind::Bytes => self.length,
                EntryKind::Zeros => 0,
            }
    }
}

/// The journal footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Number of entries.
    pub entries: u32,
    /// Offset of the first entry.
    pub journal_start: u64,
    /// Bytes of entries.
    pub body_len: u64,
    /// File length after the update.
    pub target_len: u64,
    /// SHA-256 over the entries and the first 40 footer bytes.
    pub checksum: [u8; 32],
}

impl Footer {
    /// The checked part of the footer (everything but the checksum).
    #[must_use]
    pub fn checked_bytes(&self) -> [u8; FOOTER_CHECKED] {
        let mut out = [0u8; FOOTER_CHECKED];
        let mut w = Writer::new(&mut out);
        w.put(&MAGIC)
            .u32(VERSION)
            .u32(self.entries)
            .u64(self.journal_start)
            .u64(self.body_len)
            .u64(self.target_len);
        debug_assert!(w.finish());
        out
    }

    /// Encodes the whole footer.
    #[must_use]
    pub fn encode(&self) -> [u8; FOOTER_SIZE as usize] {
        let mut out = [0u8; FOOTER_SIZE as usize];
        let mut w = Writer::new(&mut out);
        w.put(&self.checked_bytes()).put(&self.checksum);
        debug_assert!(w.finish());
        out
    }

    /// Decodes a footer; `None` if the bytes are not one (wrong magic or version).
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut c = Cursor::new(bytes);
        let bad = Corruption::BadRecord;
        if c.array::<8>(bad).ok()? != MAGIC || c.u32(bad).ok()? != VERSION {
            return None;
        }
        Some(Self {
            entries: c.u32(bad).ok()?,
            journal_start: c.u64(bad).ok()?,
            body_len: c.u64(bad).ok()?,
            target_len: c.u64(bad).ok()?,
            checksum: c.array(bad).ok()?,
        })
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let e = EntryHeader {
            kind: EntryKind::Zeros,
            offset: 500,
            length: 7,
        };
        let b = e.encode();
        assert_eq!(b[0], 1);
        assert_eq!(EntryHeader::decode(&b), Ok(e));
        assert_eq!(e.stored_size(), 17);
        let mut bad = b;
        bad[0] = 9;
        assert_eq!(EntryHeader::decode(&bad), Err(Corruption::BadRecord));
        assert_eq!(EntryHeader::decode(&b[..16]), Err(Corruption::BadRecord));
    }

    #[test]
    fn footer_round_trip() {
        let f = Footer {
            entries: 2,
            journal_start: 1000,
            body_len: 50,
            target_len: 1200,
            checksum: [9; 32],
        };
        let b = f.encode();
        assert_eq!(&b[..8], b"TSJRNL\r\n");
        assert_eq!(Footer::decode(&b), Some(f));
        let mut bad = b;
        bad[11] = 2;
        assert_eq!(Footer::decode(&bad), None);
        assert_eq!(Footer::decode(&b[..71]), None);
    }
}
