//! The mutable container: a 100-byte header, four lease slots, the data, then the extra
//! lease block.
//!
//! ```text
//! 0x000  [32] magic             "Tahoe mutable container v1\n" + 5 bytes (or v2)
//! 0x020  [20] nodeid            the server that created the container
//! 0x034  [32] write enabler     in clear text in both versions
//! 0x054  u64  data length
//! 0x05c  u64  extra-lease offset  (468 + container data size)
//! 0x064  4 x 92-byte lease slots  (owner 0 = empty)
//! 0x1d4  data ...  (468)
//! [extra-lease offset]  u32 extra-lease count, then 92-byte records
//! ```

use sha2::{Digest, Sha256};

use super::lease::{LeaseSchema, MUTABLE_LEASE_SIZE};
use super::{Cursor, Writer};
use crate::error::Corruption;
use crate::types::{NodeId, WriteEnabler};

/// Size of the fixed header without the lease slots.
pub const HEADER_SIZE: u64 = 100;
/// Offset of the data length field.
pub const DATA_LENGTH_OFFSET: u64 = 84;
/// Offset of the extra-lease offset field.
pub const EXTRA_LEASE_OFFSET_OFFSET: u64 = 92;
/// Number of lease slots inside the header.
pub const HEADER_LEASE_SLOTS: u32 = 4;
/// Offset of the share data.
pub const DATA_OFFSET: u64 = HEADER_SIZE + HEADER_LEASE_SLOTS as u64 * MUTABLE_LEASE_SIZE as u64;
/// Tahoe's `MAX_MUTABLE_SHARE_SIZE`: 69,105 TB.
pub const MAX_MUTABLE_SHARE_SIZE: u64 = 69_105 * 1000 * 1000 * 1000 * 1000;
/// Size of a freshly created container: header, slots, and an extra-lease count of 0.
pub const NEW_CONTAINER_SIZE: u64 = DATA_OFFSET + 4;

const _: () = assert!(DATA_OFFSET == 468);

/// Mutable container versions, told apart by their magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MutableVersion {
    /// Lease secrets in clear text.
    V1,
    /// Lease secrets hashed with BLAKE2b-256 (what Tahoe 1.20 writes).
    V2,
}

impl MutableVersion {
    /// The 32-byte magic. Version 1 ends in fixed bytes; version 2's five bytes are
    /// Tahoe's tagged SHA-256d of the text, with tag `allmydata_mutable_container_header`.
    #[must_use]
    pub fn magic(self) -> [u8; 32] {
        let text: &[u8; 27] = match self {
            Self::V1 => b"Tahoe mutable container v1\n",
            Self::V2 => b"Tahoe mutable container v2\n",
        };
        let tail: [u8; 5] = match self {
            Self::V1 => [0x75, 0x09, 0x44, 0x03, 0x8e],
            Self::V2 => {
                let d = tagged_hash(b"allmydata_mutable_container_header", text);
                [d[0], d[1], d[2], d[3], d[4]]
            }
        };
        let mut out = [0u8; 32];
        let mut w = Writer::new(&mut out);
        w.put(text).put(&tail);
        debug_assert!(w.finish());
        out
    }

    /// Whether lease secrets are stored hashed.
    #[must_use]
    pub fn hashed_secrets(self) -> bool {
        self.lease_schema().is_hashed()
    }

    /// The schema of the lease records.
    #[must_use]
    pub fn lease_schema(self) -> LeaseSchema {
        match self {
            Self::V1 => LeaseSchema::V1,
            Self::V2 => LeaseSchema::V2,
        }
    }

    /// The version number.
    #[must_use]
    pub fn number(self) -> u32 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// Recognises a magic.
    #[must_use]
    pub fn from_magic(magic: &[u8]) -> Option<Self> {
        [Self::V2, Self::V1]
            .into_iter()
            .find(|v| magic.get(..32) == Some(&v.magic()[..]))
    }
}

/// Tahoe's `tagged_hash(tag, val)`: SHA-256d over `netstring(tag) || val`.
#[must_use]
pub fn tagged_hash(tag: &[u8], val: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut digits = heapless::String::<20>::new();
    // A usize has at most 20 decimal digits.
    let _ = core::fmt::write(&mut digits, format_args!("{}", tag.len()));
    h.update(digits.as_bytes());
    h.update(b":");
    h.update(tag);
    h.update(b",");
    h.update(val);
    let first = h.finalize();
    Sha256::digest(first).into()
}

/// The decoded 100-byte header.
#[derive(Clone)]
pub struct MutableHeader {
    /// The version, from the magic.
    pub version: MutableVersion,
    /// The node that created the container.
    pub nodeid: NodeId,
    /// The write enabler.
    pub write_enabler: WriteEnabler,
    /// Bytes of share data.
    pub data_length: u64,
    /// Offset of the extra-lease count.
    pub extra_lease_offset: u64,
}

impl core::fmt::Debug for MutableHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MutableHeader")
            .field("version", &self.version)
            .field("nodeid", &self.nodeid)
            .field("data_length", &self.data_length)
            .field("extra_lease_offset", &self.extra_lease_offset)
            .finish_non_exhaustive()
    }
}

/// Why a mutable header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutableHeaderError {
    /// The bytes are malformed.
    Corrupt(Corruption),
    /// The magic is not one of Tahoe's.
    UnknownMagic,
}

impl From<Corruption> for MutableHeaderError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

impl core::fmt::Display for MutableHeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Corrupt(c) => write!(f, "corrupt mutable header: {c}"),
            Self::UnknownMagic => f.write_str("unknown mutable container magic"),
        }
    }
}

/// [`MutableHeaderError::Corrupt`] gives what is wrong as its `source()`.
impl core::error::Error for MutableHeaderError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::UnknownMagic => None,
        }
    }
}

impl MutableHeader {
    /// The header of a new, empty container.
    #[must_use]
    pub fn new(version: MutableVersion, nodeid: NodeId, write_enabler: WriteEnabler) -> Self {
        Self {
            version,
            nodeid,
            write_enabler,
            data_length: 0,
            extra_lease_offset: DATA_OFFSET,
        }
    }

    /// Decodes the first 100 bytes of a container.
    ///
    /// # Errors
    ///
    /// [`MutableHeaderError::UnknownMagic`] for a foreign magic (checked first, so any
    /// short non-container reads as that), [`Corruption::TruncatedHeader`] for a short
    /// header, [`Corruption::DataLengthBeyondContainer`] and
    /// [`Corruption::OverlappingRegions`] for inconsistent fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, MutableHeaderError> {
        let mut c = Cursor::new(bytes);
        let short = Corruption::TruncatedHeader;
        let magic: [u8; 32] = match c.array(short) {
            Ok(m) => m,
            Err(_) => return Err(MutableHeaderError::UnknownMagic),
        };
        let version = MutableVersion::from_magic(&magic).ok_or(MutableHeaderError::UnknownMagic)?;
        let nodeid = NodeId(c.array(short)?);
        let write_enabler = WriteEnabler::new(c.array(short)?);
        let data_length = c.u64(short)?;
        let extra_lease_offset = c.u64(short)?;
        if data_length > MAX_MUTABLE_SHARE_SIZE {
            return Err(Corruption::DataLengthBeyondContainer.into());
        }
        if extra_lease_offset < DATA_OFFSET + data_length {
            return Err(Corruption::OverlappingRegions.into());
        }
        Ok(Self {
            version,
            nodeid,
            write_enabler,
            data_length,
            extra_lease_offset,
        })
    }

    /// Encodes the 100-byte header.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_SIZE as usize] {
        let mut out = [0u8; HEADER_SIZE as usize];
        let mut w = Writer::new(&mut out);
        w.put(&self.version.magic())
            .put(&self.nodeid.0)
            .put(self.write_enabler.as_bytes())
            .u64(self.data_length)
            .u64(self.extra_lease_offset);
        debug_assert!(w.finish());
        out
    }

    /// Checks the extra-lease block against the file size: the count field must lie in
    /// the file, and the records it announces must fit.
    ///
    /// # Errors
    ///
    /// [`Corruption::LeaseOffsetBeyondEof`] or [`Corruption::LeaseCountExceedsFile`].
    pub fn check_extra_leases(&self, num_extra: u32, file_size: u64) -> Result<(), Corruption> {
        let records_start = self
            .extra_lease_offset
            .checked_add(4)
            .filter(|end| *end <= file_size)
            .ok_or(Corruption::LeaseOffsetBeyondEof)?;
        let needed = u64::from(num_extra) * MUTABLE_LEASE_SIZE as u64;
        if needed > file_size - records_start {
            return Err(Corruption::LeaseCountExceedsFile);
        }
        Ok(())
    }

    /// The end of the container proper: the end of the last extra lease record.
    #[must_use]
    pub fn container_end(&self, num_extra: u32) -> u64 {
        self.extra_lease_offset + 4 + u64::from(num_extra) * MUTABLE_LEASE_SIZE as u64
    }
}

/// Offset of lease slot `i` (0..4 in the header, then the extra records).
#[must_use]
pub fn lease_slot_offset(extra_lease_offset: u64, i: u32) -> u64 {
    if i < HEADER_LEASE_SLOTS {
        HEADER_SIZE + u64::from(i) * MUTABLE_LEASE_SIZE as u64
    } else {
        extra_lease_offset + 4 + u64::from(i - HEADER_LEASE_SLOTS) * MUTABLE_LEASE_SIZE as u64
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn magics_match_tahoe() {
        // allmydata.storage.mutable_schema._magic(1) and _magic(2), from Tahoe 1.20.
        let v1 = "5461686f65206d757461626c6520636f6e7461696e65722076310a750944038e";
        let v2 = "5461686f65206d757461626c6520636f6e7461696e65722076320ac355219925";
        for (v, hex) in [(MutableVersion::V1, v1), (MutableVersion::V2, v2)] {
            let mut s = heapless::String::<64>::new();
            for b in v.magic() {
                core::fmt::write(&mut s, format_args!("{b:02x}")).unwrap();
            }
            assert_eq!(s.as_str(), hex);
            assert_eq!(MutableVersion::from_magic(&v.magic()), Some(v));
        }
    }

    #[test]
    fn header_round_trip() {
        let h = MutableHeader::new(
            MutableVersion::V2,
            NodeId([1; 20]),
            WriteEnabler::new([2; 32]),
        );
        let b = h.encode();
        assert_eq!(&b[84..92], &[0; 8]);
        assert_eq!(&b[92..100], &468u64.to_be_bytes());
        let d = MutableHeader::decode(&b).unwrap();
        assert_eq!(d.encode(), b);
    }

    #[test]
    fn bad_headers() {
        let h = MutableHeader::new(
            MutableVersion::V1,
            NodeId([1; 20]),
            WriteEnabler::new([2; 32]),
        );
        let good = h.encode();
        assert_eq!(
            MutableHeader::decode(&good[..99]).unwrap_err(),
            MutableHeaderError::Corrupt(Corruption::TruncatedHeader)
        );
        let mut b = good;
        b[0] ^= 1;
        assert_eq!(
            MutableHeader::decode(&b).unwrap_err(),
            MutableHeaderError::UnknownMagic
        );
        let mut b = good;
        b[84..92].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            MutableHeader::decode(&b).unwrap_err(),
            MutableHeaderError::Corrupt(Corruption::DataLengthBeyondContainer)
        );
        let mut b = good;
        b[84..92].copy_from_slice(&10u64.to_be_bytes());
        assert_eq!(
            MutableHeader::decode(&b).unwrap_err(),
            MutableHeaderError::Corrupt(Corruption::OverlappingRegions)
        );
        assert_eq!(
            h.check_extra_leases(0, 471),
            Err(Corruption::LeaseOffsetBeyondEof)
        );
        assert_eq!(h.check_extra_leases(0, 472), Ok(()));
        assert_eq!(
            h.check_extra_leases(u32::MAX, 472 + 92),
            Err(Corruption::LeaseCountExceedsFile)
        );
    }
}
